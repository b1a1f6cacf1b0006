"""Cases about a backend's life rather than one program: a caller cancelling an execution,
and the backend being closed (`aclose`) while executions are in flight.

Cancellation (`cancel_after_ms`): the runner starts the execution and cancels the awaiting
task after that long, as a caller giving up would. The call must end by raising
`asyncio.CancelledError` (never a result, never a turnout error) within
`CANCEL_GRACE_S`; the case's `no_survivors` then checks that nothing the program started
is still running, and its `then` that the backend still runs the next execution.

Closing (`close_after_ms`): a backend's `aclose` must release everything the instance
holds. The case runs on a fresh instance (a second engine over the same registry and
flags): one untimed execution first, so that the instance starts whatever it keeps between
executions (pre-started interpreters, pooled sandboxes), then the case's execution, and
`aclose` after `close_after_ms`. The call in flight must end with its result or a turnout
error that is not an internal one, `aclose` must return, and then no process that the
instance started may be left on this host: a process tree check, because what a backend
keeps between executions carries no case marker. To see only that instance's processes,
closing cases run after every other case of the run, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from turnout.conformance.deadline import CANCEL_GRACE_S, left_behind
from turnout.conformance.expectations import Observation
from turnout.errors import TurnoutError
from turnout.normalization import ErrorInfo

__all__ = [
    "CLOSE_BOUND_S",
    "ProcessSnapshot",
    "observe_cancelled",
    "observe_closed",
    "process_snapshot",
    "started_since",
]

#: How long `aclose` may take, with an execution in flight, before the case fails.
CLOSE_BOUND_S = 10.0
SETTLE_S = 0.5
_COMMAND_SHOWN = 160
#: (pid, start time in clock ticks since boot): a pid alone may be reused.
ProcessSnapshot = frozenset[tuple[int, int]]


def _processes() -> dict[int, tuple[int, int, str]]:
    """Every live process of this host: pid -> (parent pid, start time, state)."""
    found: dict[int, tuple[int, int, str]] = {}
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{name}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                found[int(name)] = (int(fields[1]), int(fields[19]), fields[0])
    return found


def process_snapshot() -> ProcessSnapshot:
    """The processes alive now, to tell later which ones started since."""
    return frozenset((pid, start) for pid, (_, start, _) in _processes().items())


def _command(pid: int) -> str:
    with contextlib.suppress(OSError):
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        command = raw.replace(b"\0", b" ").decode("utf-8", "replace")
        command = " ".join(command.split())
        return command[:_COMMAND_SHOWN] + ("…" if len(command) > _COMMAND_SHOWN else "")
    return "[gone]"


def started_since(before: ProcessSnapshot) -> list[str]:
    """Live processes below this one whose every ancestor up to this process started after
    `before` was taken: what was started from here since then, and not by a helper process
    that was already running (such as a sandbox server and its kernels)."""
    processes = _processes()
    own = os.getpid()
    new = {pid for pid, (_, start, _) in processes.items() if (pid, start) not in before}
    found = []
    for pid in sorted(new):
        parent, _, state = processes[pid]
        if state in ("Z", "X"):
            continue
        chain_is_new = True
        while parent != own:
            if parent not in new:
                chain_is_new = False
                break
            parent = processes[parent][0]
        if chain_is_new:
            found.append(f"pid {pid}: {_command(pid)}")
    return found


async def observe_cancelled(call: Awaitable[Any], cancel_after_ms: int) -> Observation:
    """Await `call`, cancel it after `cancel_after_ms`, and observe how it ended."""
    started = time.perf_counter()
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait({task}, timeout=cancel_after_ms / 1000)
        if done:
            return _ended(task, started, f"ended before it was cancelled at {cancel_after_ms} ms")
        task.cancel()
        stopped, _ = await asyncio.wait({task}, timeout=CANCEL_GRACE_S)
    except asyncio.CancelledError:
        task.cancel()
        raise
    wall_ms = (time.perf_counter() - started) * 1000
    if not stopped:
        left_behind.add(task)
        task.add_done_callback(left_behind.discard)
        overdue = f"did not end within {CANCEL_GRACE_S:.0f} s of being cancelled"
        return Observation(None, None, wall_ms, overdue=overdue)
    if task.cancelled():
        return Observation(None, None, wall_ms, cancelled=True)
    return _ended(task, started, "returned instead of raising CancelledError when cancelled")


def _ended(task: asyncio.Future[Any], started: float, problem: str) -> Observation:
    wall_ms = (time.perf_counter() - started) * 1000
    error = task.exception()
    if isinstance(error, TurnoutError):
        info = ErrorInfo.from_exception(error)
        return Observation(None, info, wall_ms, extra_problems=(f"{problem}: {info.summary()}",))
    if error is not None:
        raise error
    observed = Observation.from_return(task.result(), wall_ms)
    return Observation(
        observed.envelope,
        None,
        wall_ms,
        observed.wrapped_as,
        extra_problems=(f"{problem}: {observed.summary()}",),
    )


async def observe_closed(
    run: Callable[[], Awaitable[Observation]],
    warm_up: Callable[[], Awaitable[Observation]],
    close: Callable[[], Awaitable[None]],
    close_after_ms: int,
    *,
    tree: bool,
) -> tuple[Observation, list[str]]:
    """Run `warm_up`, then `run`, and `close` the instance `close_after_ms` into it; the
    observation of the call in flight and the problems of the closing (a slow `aclose`,
    processes the instance left, when `tree` says this host's processes are its own)."""
    before = process_snapshot() if tree else frozenset()
    problems: list[str] = []
    warmed = await warm_up()
    if not warmed.ok:
        problems.append(f"the untimed first execution failed: {warmed.summary()}")
    in_flight = asyncio.ensure_future(run())
    try:
        await asyncio.wait({in_flight}, timeout=close_after_ms / 1000)
        if in_flight.done():
            problems.append(f"the execution ended before aclose was called at {close_after_ms} ms")
        started = time.perf_counter()
        closing = asyncio.ensure_future(close())
        done, _ = await asyncio.wait({closing}, timeout=CLOSE_BOUND_S)
        if not done:
            left_behind.add(closing)
            problems.append(f"aclose did not return within {CLOSE_BOUND_S:.0f} s")
        elif closing.exception() is not None:
            problems.append(f"aclose raised {closing.exception()!r}")
        closed_ms = (time.perf_counter() - started) * 1000
        observation = await in_flight
    except asyncio.CancelledError:
        in_flight.cancel()
        raise
    if observation.error is not None and observation.error.type == "InternalError":
        problems.append(f"the execution in flight ended as {observation.error.summary()}")
    if tree:
        survivors = await asyncio.to_thread(started_since, before)
        if survivors:  # a process being killed right now may need a moment to go
            await asyncio.sleep(SETTLE_S)
            survivors = await asyncio.to_thread(started_since, before)
        problems.extend(
            f"still running after aclose ({closed_ms:.0f} ms) and the end of every execution: "
            f"{line}"
            for line in survivors
        )
    return observation, problems
