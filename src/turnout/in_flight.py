"""The executions one engine is running, so that its shutdown can interrupt them as a whole.

Every `Engine.execute` runs as a task of its engine's `InFlight`: closing it refuses new
executions (a retryable error, the code never started), and `interrupt` gives those still
running a grace period, then cancels them and waits for their cleanup (each backend kills
its sandbox or process group on cancellation). How an interruption reaches the caller is
decided here: `ExecutionInterruptedError` when the engine's shutdown cancelled it, plain
`asyncio.CancelledError` when the caller's own task was cancelled (see `turnout.shutdown`
for what callers get, and `Engine.shutdown` for the order of the steps).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from turnout.errors import ExecutionInterruptedError, InfrastructureError
from turnout.logging import get_logger

__all__ = ["CLEANUP_TIMEOUT_S", "DEFAULT_REASON", "InFlight"]

T = TypeVar("T")
log = get_logger("turnout.shutdown")
DEFAULT_REASON = "the worker is shutting down"
#: How long an interruption waits for cancelled executions to finish their cleanup (kills
#: are bounded by the backends themselves; this only keeps a broken backend from hanging
#: exit).
CLEANUP_TIMEOUT_S = 60.0


class InFlight:
    """The executions one engine is running, so that they can be interrupted as a whole."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing: str | None = None

    @property
    def count(self) -> int:
        return len(self._tasks)

    @property
    def closing(self) -> bool:
        return self._closing is not None

    async def run(self, execution: Coroutine[Any, Any, T]) -> T:
        """Await `execution` as a tracked task; translate its interruption for the caller."""
        if self._closing is not None:
            execution.close()
            raise InfrastructureError(
                f"execution not started: {self._closing}", retryable=True, started=False
            )
        task = asyncio.get_running_loop().create_task(execution)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            return await task
        except asyncio.CancelledError as cancelled:
            caller = asyncio.current_task()
            if caller is not None and caller.cancelling():
                # The caller's own task was cancelled. Awaiting `task` passed the
                # cancellation on to it and waited for it to end: its sandbox or process
                # is gone by now. Cancellation goes on as cancellation.
                raise
            if self._closing is not None:
                raise ExecutionInterruptedError(
                    f"execution interrupted: {self._closing}"
                ) from cancelled
            raise

    def close(self, reason: str = DEFAULT_REASON) -> None:
        """Refuse new executions from now on (they fail with a retryable error)."""
        if self._closing is None:
            self._closing = reason

    async def interrupt(self, grace_s: float = 0.0) -> int:
        """Wait up to `grace_s` for the executions in flight, cancel the rest and wait for
        their cleanup; how many were cancelled."""
        pending = set(self._tasks)
        if pending and grace_s > 0:
            _, pending = await asyncio.wait(pending, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            _, stuck = await asyncio.wait(pending, timeout=CLEANUP_TIMEOUT_S)
            if stuck:
                log.error("shutdown_cleanup_timeout", executions=len(stuck))
        return len(pending)
