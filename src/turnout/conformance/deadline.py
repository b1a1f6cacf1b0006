"""A bound on how long the runner waits for one execution, so that no case can hang a run.

A backend that ignores its timeout (or a caller's cancellation) would otherwise keep the
suite waiting for as long as it likes. Every execution the runner starts is awaited for at
most a deadline: the case's `max_wall_ms` plus the provisioning that may be left out of it
(`PROVISIONING_CAP_MS`), or, without a bound, the node's timeout plus that cap plus
`RESULT_GRACE_MS`. When it passes, the call is cancelled, as a caller giving up would
cancel it, and the case fails saying so. A call that does not even end within
`CANCEL_GRACE_S` of its cancellation is left behind (and said to be): the runner must end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from turnout.conformance.timing import PROVISIONING_CAP_MS

__all__ = [
    "CANCEL_GRACE_S",
    "RESULT_GRACE_MS",
    "OverdueError",
    "bounded",
    "deadline_ms",
    "left_behind",
]

T = TypeVar("T")
#: How long after its timeout a node without `max_wall_ms` may take to give its result.
RESULT_GRACE_MS = 10_000.0
#: How long a cancelled call may take to end before the runner stops waiting for it.
CANCEL_GRACE_S = 5.0
DEFAULT_TIMEOUT_MS = 30_000

#: Calls that did not end after their cancellation; kept referenced so they are not
#: garbage-collected while running, and awaited (bounded) when the session closes.
left_behind: set[asyncio.Future[Any]] = set()


class OverdueError(Exception):
    """The call gave no result within its deadline and was cancelled."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def deadline_ms(max_wall_ms: int | None, timeout_ms: object) -> float:
    """The longest the runner waits for one execution (see the module docstring)."""
    if max_wall_ms is not None:
        return max_wall_ms + PROVISIONING_CAP_MS
    timeout = timeout_ms if isinstance(timeout_ms, int) and timeout_ms > 0 else DEFAULT_TIMEOUT_MS
    return timeout + PROVISIONING_CAP_MS + RESULT_GRACE_MS


def _describe(limit_ms: float, max_wall_ms: int | None) -> str:
    if max_wall_ms is not None:
        return (
            f"no result within {limit_ms:.0f} ms (the {max_wall_ms} ms allowed plus at most "
            f"{PROVISIONING_CAP_MS:.0f} ms of provisioning)"
        )
    return f"no result within {limit_ms:.0f} ms (the node's timeout plus {RESULT_GRACE_MS:.0f} ms)"


async def bounded(awaitable: Awaitable[T], limit_ms: float, max_wall_ms: int | None = None) -> T:
    """`await awaitable`, but for at most `limit_ms`; then cancel it and raise `OverdueError`.

    Cancelling the caller cancels the call too (a stopped run leaves nothing running)."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=limit_ms / 1000)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        return task.result()
    task.cancel()
    stopped, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE_S)
    if stopped:
        if not task.cancelled():
            task.exception()  # retrieved: whatever it raised while stopping is not the point
        said = "; the runner cancelled the call"
    else:
        left_behind.add(task)
        task.add_done_callback(left_behind.discard)
        said = f"; the runner cancelled the call, which did not end within {CANCEL_GRACE_S:.0f} s"
    raise OverdueError(_describe(limit_ms, max_wall_ms) + said)
