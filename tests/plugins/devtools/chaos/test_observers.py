"""Tests for turnout_devtools.chaos.observers.EventCapture: the e2b backend's events are
parsed into their types and counted by type, one that does not parse is a problem of the
run, and a release says how long an execution without timings waited for its sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from turnout_devtools.chaos.observers import EventCapture
from turnout_devtools.chaos.report import ExecutionRecord
from turnout_e2b.events import (
    PoolRefillFailed,
    SandboxCreateFailed,
    SandboxCreateRetry,
    SandboxReleased,
)

from turnout.log_events import CodeNodeExecuted
from turnout.logging import get_logger

log = get_logger("turnout.e2b")


@pytest.fixture
def capture() -> Iterator[EventCapture]:
    """An event capture installed as the only handler of turnout's events."""
    capture = EventCapture()
    with capture.installed():
        yield capture


def released(execution_id: str | None, *, seconds: float, kill_ms: float) -> SandboxReleased:
    """A sandbox's release, held `seconds` to the end of a kill of `kill_ms`."""
    return SandboxReleased(
        sandbox_id="sbx-1",
        execution_id=execution_id,
        environment="chaos",
        reason="executed" if execution_id else "drained",
        pooled=execution_id is None,
        sandbox_seconds=seconds,
        pool_idle_seconds=0.0,
        cost_usd=0.0001,
        kill_ms=kill_ms,
    )


def failed_run(index: int, execution_id: str) -> CodeNodeExecuted:
    """A chaos execution the backend raised on: no result, so no `backend_timings_ms`."""
    return CodeNodeExecuted(
        environment="chaos",
        backend="e2b",
        role="direct",
        outcome="error",
        execution_id=execution_id,
        labels={"chaos": str(index)},
        error_type="InfrastructureError",
        error_kind="infrastructure",
        retryable=True,
    )


def execution(index: int, wall_ms: float) -> ExecutionRecord:
    """How execution `index` ended as its caller saw it: a retryable error after `wall_ms`."""
    return ExecutionRecord(
        index=index,
        language="python",
        workload="ok",
        fault="drop_stream",
        timeout_ms=10_000,
        wall_ms=wall_ms,
        outcome="error",
    )


def test_the_backends_events_are_counted_by_type(capture: EventCapture) -> None:
    """Create retries and creates given up are counted per event type."""
    log.emit(SandboxCreateRetry(execution_id="e1", attempt=1, delay_s=0.1, error="503"))
    log.emit(SandboxCreateRetry(execution_id="e1", attempt=2, delay_s=0.2, error="503"))
    log.emit(SandboxCreateFailed(execution_id="e1", attempts=3, error="503"))
    counts = (capture.count(SandboxCreateRetry), capture.count(SandboxCreateFailed))
    assert counts == (2, 1)
    assert capture.count(PoolRefillFailed) == 0
    assert capture.problems == []


def test_an_unreadable_backend_event_is_a_problem_naming_its_field(
    capture: EventCapture,
) -> None:
    """A backend event with a field of the wrong type is reported, not counted."""
    log.info("sandbox_create_retry", execution_id="e1", attempt="1", delay_s=0.1, error="x")
    assert capture.count(SandboxCreateRetry) == 0
    [problem] = capture.problems
    assert problem.startswith("sandbox_create_retry: field 'attempt'")


def test_a_release_gives_the_wait_of_an_execution_without_timings(
    capture: EventCapture,
) -> None:
    """An execution the backend raised on waited at most its wall time minus what it held
    its sandbox for (the release's seconds less the kill's)."""
    log.emit(failed_run(3, "e3"))
    log.emit(released("e3", seconds=2.0, kill_ms=500.0))
    assert capture.acquire_ms(execution(3, wall_ms=2000.0)) == pytest.approx(500.0)


def test_a_pooled_sandbox_no_execution_took_charges_no_execution(
    capture: EventCapture,
) -> None:
    """A drained pooled sandbox's release is counted but says nothing of any execution."""
    log.emit(failed_run(4, "e4"))
    log.emit(released(None, seconds=5.0, kill_ms=10.0))
    assert capture.count(SandboxReleased) == 1
    assert capture.acquire_ms(execution(4, wall_ms=2000.0)) is None
