"""Tests for an engine's in-flight executions (turnout.in_flight): what a refused, an
interrupted and a caller-cancelled execution become, without any backend."""

from __future__ import annotations

import asyncio

import pytest

from turnout.errors import ExecutionInterruptedError, InfrastructureError
from turnout.in_flight import InFlight


async def forever() -> None:
    await asyncio.Event().wait()


async def test_a_closed_tracker_refuses_without_starting_the_execution() -> None:
    """After `close`, an execution is a retryable error that says it never started, and
    its coroutine is closed unrun."""
    tracker = InFlight()
    tracker.close("going away")
    execution = forever()
    with pytest.raises(InfrastructureError, match="going away") as refused:
        await tracker.run(execution)
    assert (refused.value.retryable, refused.value.started) == (True, False)
    assert execution.cr_frame is None  # closed: it will never run


async def test_an_interrupted_execution_is_a_retryable_interruption() -> None:
    """`interrupt` after `close` cancels what runs past the grace: its caller gets an
    `ExecutionInterruptedError`, and `interrupt` counts it."""
    tracker = InFlight()
    call = asyncio.create_task(tracker.run(forever()))
    await asyncio.sleep(0)
    tracker.close()
    assert await tracker.interrupt(grace_s=0.0) == 1
    with pytest.raises(ExecutionInterruptedError):
        await call
    assert tracker.count == 0


async def test_the_callers_own_cancellation_stays_a_cancellation() -> None:
    """A caller whose own task is cancelled gets `CancelledError`, never a turnout error."""
    tracker = InFlight()
    call = asyncio.create_task(tracker.run(forever()))
    await asyncio.sleep(0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
