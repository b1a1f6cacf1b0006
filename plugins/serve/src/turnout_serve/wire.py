"""Error bodies back into turnout errors, for the Python client of the service.

`error_from_response` rebuilds the exact class the service raised, with the same
`to_dict()`, so that `except turnout.CodeExecutionError` and `error.retryable` work the
same through HTTP as in the library. A body that is not turnout's (a proxy's 502 page, a
gateway's timeout) becomes an `InfrastructureError`, retryable when its status says a
retry can help (429, 502, 503, 504).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    ExecutionInterruptedError,
    InfrastructureError,
    InternalError,
    TurnoutError,
    ValidationError,
)
from turnout_serve.errors import (
    AuthenticationError,
    DeadlineExceededError,
    NotReadyError,
    OverloadedError,
    RequestRejectedError,
    ServiceDrainingError,
)

__all__ = ["error_from_body", "error_from_response"]

_RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
Builder = Callable[[Mapping[str, Any], int], TurnoutError]


def error_from_response(
    status: int, content: bytes, headers: Mapping[str, str]
) -> TurnoutError | None:
    """The error an HTTP answer carries, or None for an answer that is a result."""
    try:
        data = json.loads(content) if content else None
    except (ValueError, UnicodeDecodeError):
        data = None
    detail = data.get("error") if isinstance(data, dict) and len(data) == 1 else None
    if isinstance(detail, dict) and "metadata" not in detail:  # not outputVariable "error"
        return error_from_body(detail, status)
    if 200 <= status < 300 and data is not None:
        return None
    retry_after = headers.get("retry-after")
    return InfrastructureError(
        f"turnout serve answered HTTP {status} without a turnout error body",
        retryable=status in _RETRYABLE_STATUSES,
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
    )


def error_from_body(detail: Mapping[str, Any], status: int) -> TurnoutError:
    """The turnout error described by `detail` (an error body's `error` object)."""
    builder = _BUILDERS.get(str(detail.get("type")), _unknown)
    error = builder(detail, status)
    message = str(detail.get("message", ""))
    error.message = message
    error.args = (message,)
    if detail.get("warnings"):
        error.warnings = tuple(str(warning) for warning in detail["warnings"])
    return error


def _validation(detail: Mapping[str, Any], _: int) -> TurnoutError:
    return ValidationError(str(detail.get("field", "")), "")


def _rejected(detail: Mapping[str, Any], status: int) -> TurnoutError:
    return RequestRejectedError(str(detail.get("field", "")), "", status=status)


def _code(detail: Mapping[str, Any], _: int) -> TurnoutError:
    return CodeExecutionError(
        detail.get("kind", "runtime"),
        "",
        name=detail.get("name"),
        line=detail.get("line"),
        stdout=str(detail.get("stdout", "")),
        stderr=str(detail.get("stderr", "")),
    )


def _infrastructure(detail: Mapping[str, Any], _: int) -> TurnoutError:
    return InfrastructureError(
        "",
        retryable=bool(detail.get("retryable", True)),
        retry_after=detail.get("retry_after"),
        backend=detail.get("backend"),
    )


def _unknown(detail: Mapping[str, Any], status: int) -> TurnoutError:
    """A type this client does not know (a newer service): kept as what it says it is."""
    return InfrastructureError(
        "",
        retryable=bool(detail.get("retryable", status in _RETRYABLE_STATUSES)),
        retry_after=detail.get("retry_after"),
    )


_BUILDERS: dict[str, Builder] = {
    "ValidationError": _validation,
    "RequestRejectedError": _rejected,
    "CodeExecutionError": _code,
    "InfrastructureError": _infrastructure,
    "ConfigurationError": lambda detail, _: ConfigurationError(""),
    "InternalError": lambda detail, _: InternalError("", backend=detail.get("backend")),
    "ExecutionInterruptedError": lambda detail, _: ExecutionInterruptedError(
        "", backend=detail.get("backend")
    ),
    "AuthenticationError": lambda detail, _: AuthenticationError(""),
    "OverloadedError": lambda detail, _: OverloadedError(
        "", retry_after=float(detail.get("retry_after") or 1.0)
    ),
    "ServiceDrainingError": lambda detail, _: ServiceDrainingError(
        "", retry_after=float(detail.get("retry_after") or 1.0)
    ),
    "NotReadyError": lambda detail, _: NotReadyError(list(detail.get("reasons", []))),
    "DeadlineExceededError": lambda detail, _: DeadlineExceededError(
        "", backend=detail.get("backend")
    ),
}
