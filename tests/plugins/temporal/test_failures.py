"""turnout's errors as Temporal ApplicationErrors: type, retryability, delay and details."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

import pytest
from turnout_temporal.failures import interrupted_by_shutdown, to_application_error

from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    ErrorKind,
    InfrastructureError,
    InternalError,
    TurnoutError,
    ValidationError,
)


class TestUserCodeErrors:
    @pytest.mark.parametrize("kind", get_args(ErrorKind))
    def test_each_kind_is_the_type_and_is_never_retried(self, kind: ErrorKind) -> None:
        """Every user-code error kind: type = the kind, non-retryable, the error JSON."""
        error = CodeExecutionError(kind, f"{kind} failure", stdout="out", line=3)
        failure = to_application_error(error)
        assert (failure.type, failure.non_retryable) == (kind, True)
        assert failure.message == f"{kind} failure"
        assert list(failure.details) == [error.to_dict()]
        assert failure.next_retry_delay is None


class TestOtherErrors:
    @pytest.mark.parametrize(
        "error",
        [
            ValidationError("timeout", "must be at most 300000"),
            ConfigurationError("no E2B_API_KEY"),
            InternalError("a bug", backend="e2b"),
            InfrastructureError("disk full", retryable=False),
        ],
        ids=lambda error: type(error).__name__,
    )
    def test_errors_a_retry_cannot_fix_are_non_retryable(self, error: TurnoutError) -> None:
        """Validation, configuration, internal and non-retryable infrastructure errors:
        type = the class name, non-retryable, the error JSON as details."""
        failure = to_application_error(error)
        assert (failure.type, failure.non_retryable) == (type(error).__name__, True)
        assert list(failure.details) == [error.to_dict()]

    def test_a_retryable_infrastructure_error_is_retried_after_its_retry_after(self) -> None:
        """retry_after = 2.5 s becomes the next retry's delay."""
        failure = to_application_error(InfrastructureError("rate limited", retry_after=2.5))
        assert (failure.type, failure.non_retryable) == ("InfrastructureError", False)
        assert failure.next_retry_delay == timedelta(seconds=2.5)

    def test_without_retry_after_the_retry_policy_decides_the_delay(self) -> None:
        """No retry_after: no delay of its own (the workflow's retry policy applies)."""
        failure = to_application_error(InfrastructureError("connection reset"))
        assert (failure.non_retryable, failure.next_retry_delay) == (False, None)

    def test_a_shutdown_interruption_is_retried_elsewhere(self) -> None:
        """The worker's own shutdown: ExecutionInterruptedError, retryable."""
        failure = interrupted_by_shutdown()
        assert (failure.type, failure.non_retryable) == ("ExecutionInterruptedError", False)
        assert failure.details[0]["retryable"] is True
