"""One status for each error, and Retry-After exactly where a retry can help."""

from __future__ import annotations

import pytest
from turnout_serve.errors import (
    AuthenticationError,
    DeadlineExceededError,
    NotReadyError,
    OverloadedError,
    RequestRejectedError,
    ServiceDrainingError,
    retry_after_header,
    status_for,
)

from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    ExecutionInterruptedError,
    InfrastructureError,
    InternalError,
    TurnoutError,
    ValidationError,
)

STATUSES: list[tuple[TurnoutError, int]] = [
    (CodeExecutionError("runtime", "boom"), 200),
    (AuthenticationError("no token"), 401),
    (RequestRejectedError("body", "too large", status=413), 413),
    (ValidationError("language", "bad"), 422),
    (OverloadedError("full"), 429),
    (ConfigurationError("no key"), 500),
    (InternalError("bug"), 500),
    (InfrastructureError("gone for good", retryable=False), 502),
    (InfrastructureError("try again", retry_after=2.5), 503),
    (ExecutionInterruptedError("drained"), 503),
    (ServiceDrainingError("draining"), 503),
    (NotReadyError(["draining"]), 503),
    (DeadlineExceededError("late"), 504),
]


@pytest.mark.parametrize(("error", "status"), STATUSES, ids=lambda v: type(v).__name__)
def test_each_error_has_its_documented_status(error: TurnoutError, status: int) -> None:
    """`status_for` gives the status docs/service.md's table gives for each class."""
    assert status_for(error) == status


@pytest.mark.parametrize(("error", "status"), STATUSES, ids=lambda v: type(v).__name__)
def test_retry_after_is_sent_with_429_503_and_504_only(error: TurnoutError, status: int) -> None:
    """Retry-After (whole seconds, at least 1) goes with retryable 429, 503 and 504 answers."""
    header = retry_after_header(error)
    if status in (429, 503, 504):
        assert int(header["Retry-After"]) >= 1
    else:
        assert header == {}


def test_retry_after_rounds_the_backend_s_hint_up() -> None:
    """A backend's 2.5 s hint is sent as 3, never as a shorter wait."""
    assert retry_after_header(InfrastructureError("x", retry_after=2.5)) == {"Retry-After": "3"}


def test_service_errors_say_their_kind() -> None:
    """The service's own refusals carry a `kind` a caller can route on."""
    kinds = [
        error.to_dict()["kind"]
        for error in (
            AuthenticationError("a"),
            OverloadedError("o"),
            ServiceDrainingError("d"),
            DeadlineExceededError("l"),
        )
    ]
    assert kinds == ["authentication", "overloaded", "draining", "deadline"]
