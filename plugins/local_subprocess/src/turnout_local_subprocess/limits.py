"""How one execution is confined: rlimits, its cgroup jail when there is one, its session.

Where cgroups are available they bound memory and process count for the whole process
tree and let everything be killed, `setsid()` escapees included. Rlimits apply in both
modes, per process, so that running out of memory is an error the program can report
rather than a kill: RLIMIT_AS for Python (a catchable MemoryError), RLIMIT_DATA for Node
(RLIMIT_AS kills Node at start-up because V8 reserves a large virtual range, but those
reservations are not writable and do not count as data; Buffers past the limit fail with
a RangeError), plus `--max-old-space-size` for the V8 heap. Without cgroups, killing
relies on the session plus a scan for processes working inside the execution's
directory; a process that leaves both is out of reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from turnout.models import Language
from turnout_local_subprocess.cgroups import CgroupHost, Jail

__all__ = ["Confinement", "node_heap_mb"]

RELEASE_TIMEOUT_S = 0.5
POLL_S = 0.005


def node_heap_mb(memory_mb: int) -> int:
    """V8's old-space cap: below the cgroup limit, so V8 fails cleanly before the kernel kills."""
    return max(16, memory_mb * 3 // 4)


@dataclass
class Confinement:
    """Limits and kill switch for one execution; `session` is set once the child exists."""

    language: Language
    memory_bytes: int
    workdir: Path
    jail: Jail | None = None
    session: int | None = None

    @classmethod
    def create(
        cls,
        language: Language,
        *,
        memory_mb: int,
        pids_max: int,
        workdir: Path,
        cgroups: CgroupHost | None,
    ) -> Confinement:
        memory_bytes = memory_mb * 1024 * 1024
        jail = Jail.create(cgroups, memory_bytes, pids_max) if cgroups is not None else None
        return cls(language, memory_bytes, workdir, jail)

    @property
    def rlimits(self) -> list[tuple[int, int]]:
        memory = resource.RLIMIT_AS if self.language == "python" else resource.RLIMIT_DATA
        return [(resource.RLIMIT_CORE, 0), (memory, self.memory_bytes)]

    @contextlib.contextmanager
    def preexec(self) -> Iterator[Callable[[], None]]:
        """The function the child runs after fork, before exec: enter the jail, set rlimits."""
        limits = self.rlimits
        joining = self.jail.joiner() if self.jail is not None else contextlib.nullcontext(None)
        with joining as join:

            def enter() -> None:
                if join is not None:
                    join()
                for limit, value in limits:
                    resource.setrlimit(limit, (value, value))

            yield enter

    def attach(self, pid: int) -> None:
        """Remember the started child: its pid is also its session and process-group id."""
        self.session = pid

    def kill_all(self) -> bool:
        """SIGKILL everything the program started; True when nothing was left to kill."""
        if self.session is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.session, signal.SIGKILL)
        if self.jail is not None:
            return self.jail.kill_members()
        stragglers = _stragglers(self.session, self.workdir)
        for pid in stragglers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return not stragglers

    def memory_exhausted(self) -> bool:
        return self.jail is not None and self.jail.memory_exhausted()

    async def release(self) -> bool:
        """Kill until nothing is left, then remove the jail; False if that did not happen.

        Killing repeats while waiting, so processes forked during a pass die too
        (`pids.max` keeps that race short).
        """
        deadline = time.monotonic() + RELEASE_TIMEOUT_S
        while True:
            if self.kill_all() and (self.jail is None or self.jail.remove_empty()):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)


def _stragglers(session: int | None, workdir: Path) -> list[int]:
    """Live processes still in the program's session or working inside its directory.

    Zombies are skipped: they hold no resources, and their new parent reaps them.
    """
    found: list[int] = []
    own = os.getpid()
    prefix = f"{workdir}{os.sep}"
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in (own, 1):
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                state, _, _, sid = stat[stat.rindex(")") + 2 :].split()[:4]
                if state in ("Z", "X"):
                    continue
                if int(sid) == session:
                    found.append(int(entry))
                    continue
                cwd = os.readlink(f"/proc/{entry}/cwd")
                if cwd == str(workdir) or cwd.startswith(prefix):
                    found.append(int(entry))
    return found
