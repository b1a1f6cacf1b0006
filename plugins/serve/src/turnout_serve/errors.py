"""The errors only a service has, and the one status mapping of every error to HTTP.

The service answers every failure with the body `turnout run --json` prints for it,
`{"error": error.to_dict()}`, so that a caller in any language routes on the same fields
(`type`, `kind`, `retryable`, `retry_after`). The library's tree (`turnout.errors`) covers
executions; a service also refuses requests before any execution starts, and those
refusals are the classes below, in the same tree:

    TurnoutError
    ├── ValidationError
    │   └── RequestRejectedError      the request itself is unacceptable (too large, too slow
    │                                 to arrive, unknown route); never retryable as it is
    ├── AuthenticationError           no or a wrong bearer token; never retryable as it is
    └── InfrastructureError
        ├── OverloadedError           every execution slot is taken; retry after a moment
        ├── ServiceDrainingError      the service is shutting down; retry on another replica
        ├── NotReadyError             `/readyz` while draining or unable to build a backend
        └── DeadlineExceededError     the node's timeout plus the provisioning budget passed
                                      with no answer from the backend; its sandbox is killed

Status mapping (docs/service.md), decided by `status_for` and nowhere else:

    200  an envelope, or a CodeExecutionError (the user's code failed: a completed
         execution, so the caller routes on `kind`)
    401  AuthenticationError                      408  RequestRejectedError (body too slow)
    404  RequestRejectedError (no such route)     405  RequestRejectedError (wrong method)
    413  RequestRejectedError (body too large)    415  RequestRejectedError (not JSON)
    422  ValidationError (the field is named)
    429  OverloadedError (Retry-After)            500  ConfigurationError, InternalError
    502  a non-retryable InfrastructureError      503  a retryable InfrastructureError,
    504  DeadlineExceededError (Retry-After)           ServiceDrainingError, NotReadyError
"""

from __future__ import annotations

import math
from typing import Any

from turnout.errors import (
    CodeExecutionError,
    InfrastructureError,
    TurnoutError,
    ValidationError,
)

__all__ = [
    "DEFAULT_RETRY_AFTER_S",
    "AuthenticationError",
    "DeadlineExceededError",
    "NotReadyError",
    "OverloadedError",
    "RequestRejectedError",
    "ServiceDrainingError",
    "error_body",
    "retry_after_header",
    "status_for",
]

DEFAULT_RETRY_AFTER_S = 1.0
"""The `Retry-After` of a retryable error that did not say when to retry."""


class RequestRejectedError(ValidationError):
    """The HTTP request cannot be served as sent: `field` names the part (`body`, `path`,
    `method`) and `status` the HTTP status it is answered with."""

    def __init__(self, field: str, problem: str, *, status: int, allowed: str | None = None):
        super().__init__(field, problem, allowed)
        self.status = status


class AuthenticationError(TurnoutError):
    """The request carries no bearer token, or one the service does not accept."""

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "kind": "authentication"}


class OverloadedError(InfrastructureError):
    """Every execution slot of this replica is taken (`--max-concurrency`): nothing ran;
    retry after `retry_after` seconds, here or on another replica."""

    def __init__(self, message: str, *, retry_after: float = DEFAULT_RETRY_AFTER_S) -> None:
        super().__init__(message, retryable=True, retry_after=retry_after, started=False)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "kind": "overloaded"}


class ServiceDrainingError(InfrastructureError):
    """This replica is shutting down (SIGTERM): nothing ran; retry on another replica."""

    def __init__(self, message: str, *, retry_after: float = DEFAULT_RETRY_AFTER_S) -> None:
        super().__init__(message, retryable=True, retry_after=retry_after, started=False)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "kind": "draining"}


class NotReadyError(InfrastructureError):
    """`GET /readyz` while the replica cannot serve: `reasons` says why (draining, flags
    that do not load, a backend that cannot be built)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(
            "not ready: " + "; ".join(reasons), retryable=True, retry_after=DEFAULT_RETRY_AFTER_S
        )
        self.reasons = list(reasons)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "kind": "not_ready", "reasons": self.reasons}


class DeadlineExceededError(InfrastructureError):
    """The backend gave no answer within the node's timeout plus the provisioning budget;
    the execution was cancelled and its sandbox or process killed. The code may have run."""

    def __init__(self, message: str, *, backend: str | None = None) -> None:
        super().__init__(
            message,
            retryable=True,
            retry_after=DEFAULT_RETRY_AFTER_S,
            started=True,
            backend=backend,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "kind": "deadline"}


def status_for(error: TurnoutError) -> int:
    """The HTTP status of `error` (the table of the module docstring)."""
    if isinstance(error, CodeExecutionError):
        return 200
    if isinstance(error, RequestRejectedError):
        return error.status
    if isinstance(error, ValidationError):
        return 422
    if isinstance(error, AuthenticationError):
        return 401
    if isinstance(error, OverloadedError):
        return 429
    if isinstance(error, DeadlineExceededError):
        return 504
    if isinstance(error, InfrastructureError):
        return 503 if error.retryable else 502
    return 500  # ConfigurationError, InternalError, and any other TurnoutError


def error_body(error: TurnoutError) -> dict[str, Any]:
    """The JSON body of an error response: what `turnout run --json` prints for it."""
    return {"error": error.to_dict()}


def retry_after_header(error: TurnoutError) -> dict[str, str]:
    """`Retry-After` (whole seconds, rounded up) for a retryable error answered with 429,
    503 or 504; no header for the others."""
    if not error.retryable or status_for(error) not in (429, 503, 504):
        return {}
    seconds = getattr(error, "retry_after", None)
    seconds = DEFAULT_RETRY_AFTER_S if seconds is None else seconds
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
