"""turnout's errors as Temporal `ApplicationError`s: what the workflow sees, and what it retries.

Temporal retries a failed activity by its retry policy unless the failure says
`non_retryable`, so the one fact turnout's error tree keeps for this (`retryable`) is carried
over as is, and the failure's `type` is what a workflow's retry policy can list in
`nonRetryableErrorTypes`:

    turnout error                         type                        Temporal retries
    CodeExecutionError (the user's code)  its kind: syntax, runtime,  never
                                          timeout, memory, import,
                                          output_too_large,
                                          output_not_serializable
    ValidationError (the input)           ValidationError             never
    ConfigurationError (the deployment)   ConfigurationError          never
    InternalError (a bug)                 InternalError               never
    InfrastructureError, retryable        InfrastructureError         yes, after `retry_after`
                                                                      when the backend gave one
    InfrastructureError, not retryable    InfrastructureError         never
    ExecutionInterruptedError (shutdown)  ExecutionInterruptedError   yes, on another worker

Every failure carries the error's JSON (`error.to_dict()`, the object `turnout run --json`
prints under "error") as its one detail, already scrubbed of secrets.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError

from turnout.errors import (
    CodeExecutionError,
    ExecutionInterruptedError,
    InfrastructureError,
    TurnoutError,
)

__all__ = ["failure_type", "interrupted_by_shutdown", "to_application_error"]


def failure_type(error: TurnoutError) -> str:
    """The `ApplicationError.type` for `error`: a user-code error's kind, else its class."""
    if isinstance(error, CodeExecutionError):
        return error.kind
    return type(error).__name__


def to_application_error(error: TurnoutError) -> ApplicationError:
    """The failure the activity raises for `error` (see the table above)."""
    delay = None
    if isinstance(error, InfrastructureError) and error.retryable and error.retry_after:
        delay = timedelta(seconds=error.retry_after)
    return ApplicationError(
        error.message,
        error.to_dict(),
        type=failure_type(error),
        non_retryable=not error.retryable,
        next_retry_delay=delay,
    )


def interrupted_by_shutdown(backend: str | None = None) -> ApplicationError:
    """The failure of an execution the worker's shutdown cancelled after its grace period:
    retryable, so Temporal runs it again on a worker that stays (its sandbox is gone)."""
    return to_application_error(
        ExecutionInterruptedError(
            "execution interrupted: the worker is shutting down", backend=backend
        )
    )
