"""Start a child without stopping the event loop, and hear its exit through a pidfd.

`subprocess.Popen` forks the whole calling process and then waits until the child has
called exec (the backend passes no `preexec_fn`: see `Confinement.prelude` for why the
child runs no Python; `preexec` remains for callers that need one, never beside threads
that call into Python). asyncio's `create_subprocess_exec` does
all of that on the event loop's thread, so every coroutine of the process waits for it: on
a loaded machine a start takes hundreds of milliseconds, and with a few executions
starting at once the loop stood still for over a second, which every other execution's
clock and timeout then paid for. Here the start runs on a worker thread, and the exit is
watched with a pidfd registered with the loop, so waiting costs no thread and reaping
never blocks.

A start cannot be abandoned half way (the child may be forked already): a cancellation
that arrives during it is held until the child exists, and reported with the child, so
the caller kills it before re-raising.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

__all__ = ["Child", "start_child"]


class Child:
    """A started child process: its pid, its exit status once it has been reaped."""

    def __init__(self, popen: subprocess.Popen[bytes], loop: asyncio.AbstractEventLoop) -> None:
        self.pid = popen.pid
        self._popen = popen
        self._loop = loop
        self._exited: asyncio.Future[int] = loop.create_future()
        # The child is not reaped until `poll()` below, so its pidfd can always be opened.
        self._pidfd: int | None = os.pidfd_open(popen.pid)
        loop.add_reader(self._pidfd, self._reap)

    @property
    def returncode(self) -> int | None:
        """The exit status as `subprocess` reports it (-N for signal N); None while alive."""
        return self._popen.returncode

    async def wait(self) -> int:
        """Wait for the exit; cancelling the wait leaves the child watched and reaped."""
        return await asyncio.shield(self._exited)

    def _reap(self) -> None:
        if self._popen.poll() is None:  # readable only once it has exited; never spin
            return
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if not self._exited.done():
            self._exited.set_result(self._popen.returncode)


def _popen(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    preexec: Callable[[], None] | None,
    streams: Sequence[int],
    pass_fds: tuple[int, ...],
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        stdin=streams[0],
        stdout=streams[1],
        stderr=streams[2],
        cwd=cwd,
        env=env,
        start_new_session=True,
        preexec_fn=preexec,
        pass_fds=pass_fds,
    )


async def start_child(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    preexec: Callable[[], None] | None = None,
    streams: Sequence[int],
    pass_fds: Sequence[int] = (),
) -> tuple[Child, bool]:
    """Start `argv` in a new session with `streams` as stdin, stdout and stderr.

    Returns the child and whether this task was cancelled while it started (the caller
    must then kill it and re-raise `CancelledError`). Raises what `Popen` raises when the
    program cannot be started.
    """
    loop = asyncio.get_running_loop()
    starting = loop.run_in_executor(
        None, partial(_popen, list(argv), cwd, dict(env), preexec, streams, tuple(pass_fds))
    )
    cancelled = False
    while True:
        try:
            popen = await asyncio.shield(starting)
        except asyncio.CancelledError:
            cancelled = True  # `starting` itself goes on: wait for what it started
            continue
        except BaseException:
            if cancelled:  # nothing was started; the cancellation is what the caller sees
                raise asyncio.CancelledError from None
            raise
        return Child(popen, loop), cancelled
