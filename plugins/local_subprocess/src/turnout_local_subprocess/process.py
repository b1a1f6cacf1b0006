"""Start one program, capture its output, stop it at the deadline, never hang.

The output pipes are made here rather than by asyncio, because asyncio's `Process.wait()`
also waits for its pipes to close, and a grandchild that escaped the kill (or a
background process the program left behind) can hold them open forever. With our own
pipes, exit is noticed when the child exits; everything is then killed, and reaping the
child and draining the pipes share one short, bounded grace period; the pipes are closed
either way.

A wrapper that prepares the program's surroundings (`unshare` and the namespace init of
`isolation`) has a channel of its own, so that nothing it says is mistaken for the
program's output: with `wrapped`, the child's standard error is the write end of a report
pipe, and its standard input is the write end of the program's stderr pipe, which the
wrapper hands to the program as its stderr (giving it `/dev/null` as stdin). What the
wrapper wrote is read once everything has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnout.errors import InfrastructureError
from turnout_local_subprocess.capture import CappedSink
from turnout_local_subprocess.child import Child, start_child
from turnout_local_subprocess.options import BACKEND_ID

__all__ = ["KILL_GRACE_S", "RunOutcome", "run_program"]

# After the kill: reaping the child and draining its pipes to end of file share this
# budget. Both normally take milliseconds; the bound matters when something holds on.
KILL_GRACE_S = 0.2
REPORT_LIMIT = 4096


@dataclass(frozen=True)
class RunOutcome:
    """What the process did. `returncode` is None if it could not be reaped after the kill.

    `report` is what the wrapper wrote on its channel, None without a wrapper.
    """

    returncode: int | None
    timed_out: bool
    stdout: CappedSink
    stderr: CappedSink
    spawn_ms: float
    run_ms: float
    report: bytes | None = None


async def run_program(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    preexec: Callable[[], None] | None = None,
    timeout_s: float,
    output_cap: int,
    on_start: Callable[[int], None],
    kill_all: Callable[[], object],
    wrapped: bool = False,
    handover: asyncio.Future[tuple[float, float]] | None = None,
    pass_fds: Sequence[int] = (),
) -> RunOutcome:
    """Run `argv` in a new session; kill everything at `timeout_s` or once it has exited.

    `on_start` receives the child's pid (its session and process-group id) as soon as it
    exists; `kill_all` must kill every process the program started. On cancellation this
    kills, waits briefly for the child, closes the pipes and re-raises.

    With `handover` (a pre-started interpreter, see `turnout_local_subprocess.spare`), the
    child is started at once but the timeout only starts when `handover` resolves, to the
    `perf_counter` time at which the program was handed over and the timeout to apply from
    then (`timeout_s` applies otherwise); a child that exits before then ends the run as
    usual. `pass_fds` stay open in the child.
    """
    readers: list[tuple[CappedSink, asyncio.BaseTransport]] = []
    write_ends: list[int] = []
    report_read: int | None = None
    try:
        for name in ("stdout", "stderr"):
            sink, transport, write_end = await _open_pipe(name, output_cap)
            readers.append((sink, transport))
            write_ends.append(write_end)
        # stdin, stdout, stderr of the child: see the module docstring for `wrapped`.
        streams = [subprocess.DEVNULL, *write_ends]
        if wrapped:
            report_read, report_write = os.pipe()
            os.set_blocking(report_read, False)
            write_ends.append(report_write)
            streams = [write_ends[1], write_ends[0], report_write]
        started = time.perf_counter()
        process, cancelled = await _spawn(argv, cwd, env, preexec, streams, write_ends, pass_fds)
        spawned = time.perf_counter()
        on_start(process.pid)
        timed_out = False
        try:
            if cancelled:
                raise asyncio.CancelledError
            exited = asyncio.ensure_future(process.wait())
            try:
                if handover is not None:
                    waiting: set[asyncio.Future[Any]] = {exited, handover}
                    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                    if handover.done() and not handover.cancelled():
                        started, timeout_s = handover.result()
                        spawned = started
                try:
                    await asyncio.wait_for(asyncio.shield(exited), timeout_s)
                except TimeoutError:
                    timed_out = True
            finally:
                exited.cancel()
            ended = time.perf_counter()
        finally:
            # Nothing the program started outlives it, on every path (cancellation too).
            kill_all()
            grace_ends = time.monotonic() + KILL_GRACE_S
            if process.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), KILL_GRACE_S)
        draining = [sink.closed for sink, _ in readers if not sink.closed.done()]
        if draining:
            await asyncio.wait(draining, timeout=max(0.0, grace_ends - time.monotonic()))
        return RunOutcome(
            returncode=process.returncode,
            timed_out=timed_out,
            stdout=readers[0][0],
            stderr=readers[1][0],
            spawn_ms=(spawned - started) * 1000,
            run_ms=(ended - spawned) * 1000,
            report=None if report_read is None else _read_report(report_read),
        )
    finally:
        for fd in write_ends:
            with contextlib.suppress(OSError):
                os.close(fd)
        if report_read is not None:
            os.close(report_read)
        for _, transport in readers:
            transport.close()


def _read_report(read_end: int) -> bytes:
    try:
        return os.read(read_end, REPORT_LIMIT)
    except BlockingIOError:  # a writer is still alive and wrote nothing
        return b""


async def _open_pipe(name: str, cap: int) -> tuple[CappedSink, asyncio.BaseTransport, int]:
    """A pipe whose read end feeds a capped sink; returns the write end for the child."""
    read_end, write_end = os.pipe()
    sink = CappedSink(name, cap)
    try:
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: sink, os.fdopen(read_end, "rb", buffering=0)
        )
    except BaseException:
        os.close(write_end)
        raise
    return sink, transport, write_end


async def _spawn(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    preexec: Callable[[], None] | None,
    streams: Sequence[int],
    write_ends: list[int],
    pass_fds: Sequence[int] = (),
) -> tuple[Child, bool]:
    """Start the child with `streams` as its stdin, stdout and stderr; close `write_ends`.
    Also says whether the caller was cancelled meanwhile (see `start_child`)."""
    try:
        return await start_child(
            argv, cwd=cwd, env=env, preexec=preexec, streams=streams, pass_fds=pass_fds
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise InfrastructureError(
            f"could not start {argv[0]!r}: {exc}", started=False, backend=BACKEND_ID
        ) from exc
    finally:
        # The child has its own copies; ours would keep the pipes open after it exits.
        for write_end in write_ends:
            os.close(write_end)
        write_ends.clear()
