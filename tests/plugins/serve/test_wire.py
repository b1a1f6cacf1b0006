"""The Python client raises the very error the service raised: same class, same JSON."""

from __future__ import annotations

import json

import pytest
from turnout_serve.errors import (
    AuthenticationError,
    DeadlineExceededError,
    NotReadyError,
    OverloadedError,
    RequestRejectedError,
    ServiceDrainingError,
    error_body,
    status_for,
)
from turnout_serve.wire import error_from_response

from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    ExecutionInterruptedError,
    InfrastructureError,
    InternalError,
    TurnoutError,
    ValidationError,
)

SENT: list[TurnoutError] = [
    CodeExecutionError(
        "runtime", "ZeroDivisionError", name="ZeroDivisionError", line=2, stdout="a"
    ),
    ValidationError("timeout", "must be an integer", "milliseconds"),
    RequestRejectedError("body", "too large", status=413),
    ConfigurationError("no key"),
    InfrastructureError("create failed", retry_after=3.0, backend="e2b"),
    InfrastructureError("gone", retryable=False),
    ExecutionInterruptedError("drained", backend="local-subprocess"),
    InternalError("bug", backend="e2b"),
    AuthenticationError("no token"),
    OverloadedError("full", retry_after=2.0),
    ServiceDrainingError("draining"),
    NotReadyError(["draining"]),
    DeadlineExceededError("late"),
]


@pytest.mark.parametrize("sent", SENT, ids=lambda error: type(error).__name__)
def test_each_error_comes_back_as_itself(sent: TurnoutError) -> None:
    """An error body read by the client is an error of the same class whose `to_dict()` is
    the body's."""
    sent.add_warnings(["timeout is 30 ms"])
    body = json.dumps(error_body(sent)).encode()
    received = error_from_response(status_for(sent), body, {})
    assert type(received) is type(sent)
    assert received is not None
    assert received.to_dict() == sent.to_dict()
    assert received.retryable == sent.retryable


def test_an_envelope_wrapped_in_output_variable_error_is_a_result() -> None:
    """A node whose outputVariable is `error` answers an envelope, not an error."""
    wrapped = {"error": {"language": "python", "output": 1, "metadata": {"backend": "x"}}}
    assert error_from_response(200, json.dumps(wrapped).encode(), {}) is None


@pytest.mark.parametrize(("status", "retryable"), [(502, True), (503, True), (400, False)])
def test_a_body_that_is_not_turnout_s_is_an_infrastructure_error(
    status: int, retryable: bool
) -> None:
    """A proxy's HTML page is an InfrastructureError, retryable for 429/502/503/504."""
    error = error_from_response(status, b"<html>Bad Gateway</html>", {"retry-after": "5"})
    assert isinstance(error, InfrastructureError)
    assert error.retryable is retryable
