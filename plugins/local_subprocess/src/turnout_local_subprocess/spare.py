"""A pre-started, single-use Python interpreter: the start-up off the critical path.

Why: Python starts in about 12 ms; one execution through this backend also pays for its
workspace, its cgroup, `unshare` into a PID and mount namespace, the mounts of its private
scratch directories and the init shell, which made a trivial node 2.1x the bare
interpreter (`turnout bench`, docs/performance.md). A spare is one execution prepared in
full ahead of time, all of that and the confined interpreter included, missing only its
program. The interpreter runs `STUB`, which blocks reading a pipe the worker holds. At the
hand-over the worker writes the program into the spare's workspace, writes its path into
the pipe and closes it; the stub runs the program as `python -I -u PROGRAM` would
(`runpy.run_path` as `__main__`, `sys.argv == [PROGRAM]`), and the node's timeout starts
then. Isolation is the same as a cold start's, because it is a cold start, only earlier.

A spare serves exactly one execution and is never reused; the backend starts the next one
after each take. If the worker dies, the pipe's write end closes with it: the stub reads
end-of-file and exits, and the namespace goes with it. A spare not handed over is
discarded the same way (`discard`), by the backend's `aclose`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from turnout_local_subprocess.limits import Confinement
from turnout_local_subprocess.process import RunOutcome
from turnout_local_subprocess.workdir import Workspace

__all__ = ["STUB", "STUB_NAME", "Channel", "Spare", "write_stub"]

STUB_NAME = "spare.py"
# Lowest descriptor number for the hand-over pipe in the child: the namespace's init
# script uses 3 and 4 for itself (see isolation.INIT_SCRIPT).
CHANNEL_MIN_FD = 10
# argv[1] is the descriptor the path arrives on. The stub lives in a directory of its own
# (`write_stub`), so the program's directory holds what a cold start's does without the
# stub deleting itself (it runs as the program's unprivileged identity, which may not
# write there, and the worker cannot delete it at the hand-over: the interpreter may not
# have opened it yet). Before the program, nothing but os, sys and runpy is imported
# (interpreter start-up imports the first two anyway), and the stub's names live in its
# own module, not in the program's __main__.
STUB = """\
import os, runpy, sys
with os.fdopen(int(sys.argv[1]), "rb") as channel:
    path = channel.read().decode("utf-8")
if not path:
    raise SystemExit(0)
sys.argv[:] = [path]
del channel
runpy.run_path(path, run_name="__main__")
"""


def write_stub(workspace: Workspace) -> Path:
    """Write `STUB` into the workspace's `spare/` (readable by the program, not writable)."""
    directory = workspace.root / "spare"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    stub = directory / STUB_NAME
    stub.write_text(STUB, encoding="utf-8")
    os.chmod(stub, 0o644)
    return stub


@dataclass
class Channel:
    """The hand-over pipe: the child reads `child_fd` (>= CHANNEL_MIN_FD), we write."""

    child_fd: int
    write_fd: int

    @classmethod
    def open(cls) -> Channel:
        read_fd, write_fd = os.pipe()
        try:
            child_fd = fcntl.fcntl(read_fd, fcntl.F_DUPFD_CLOEXEC, CHANNEL_MIN_FD)
        finally:
            os.close(read_fd)
        return cls(child_fd, write_fd)

    def close_child_end(self) -> None:
        """Ours to close once the child has its copy (after the spawn)."""
        if self.child_fd >= 0:
            os.close(self.child_fd)
            self.child_fd = -1

    def send(self, path: Path) -> None:
        """Hand `path` over and close our end: the stub reads to end-of-file. A path is far
        below the pipe's buffer, so the write never blocks."""
        try:
            os.write(self.write_fd, os.fsencode(path))
        finally:
            os.close(self.write_fd)
            self.write_fd = -1

    def close(self) -> None:
        self.close_child_end()
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1


@dataclass
class Spare:
    """One prepared execution waiting for its program (see the module docstring)."""

    workspace: Workspace
    confinement: Confinement
    channel: Channel
    run: asyncio.Task[RunOutcome]
    handover: asyncio.Future[tuple[float, float]]

    @property
    def alive(self) -> bool:
        """Whether its interpreter is still waiting (it did not die while idle)."""
        return not self.run.done() and not self.handover.done()

    def hand_over(self, program: Path, timeout_s: float) -> None:
        """Give the program to the stub; its timeout starts now."""
        self.handover.set_result((time.perf_counter(), timeout_s))
        self.channel.send(program)

    async def discard(self) -> None:
        """End a spare that will never run anything: the stub exits on end-of-file."""
        if not self.handover.done():
            self.handover.cancel()
        self.channel.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await self.run
