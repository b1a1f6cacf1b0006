"""Per-execution cgroup v1 jails: one memory and one pids cgroup around each program.

Layout: `<mount>/memory/turnout/<pid namespace>-<host pid>-<random>` and the same name
under `<mount>/pids/turnout/`. The jails sit under a `turnout` parent at the hierarchy's
root rather than under the host's own cgroup, so turnout never writes inside a cgroup
that another system (a container runtime, an init) manages. The owner in the name lets
`sweep_stale` remove jails left behind by a host process that died; the pid namespace in
it keeps containers that share one cgroup hierarchy from sweeping each other's jails.

A cgroup is used rather than the process group alone because membership survives
`setsid()` and double forks: everything the program starts stays inside, so it can all be
killed, its memory is bounded as a whole, and an out-of-memory kill is counted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CGROUP_MOUNT", "CgroupHost", "Jail", "alive", "owner", "probe", "sweep_stale"]

CGROUP_MOUNT = Path("/sys/fs/cgroup")
PARENT = "turnout"


@dataclass(frozen=True)
class CgroupHost:
    """The `turnout` parent cgroups this host lets us use; pids is optional."""

    memory: Path
    pids: Path | None


def probe(mount: Path = CGROUP_MOUNT) -> CgroupHost | None:
    """Find (and create) the parent cgroups, or None when cgroup v1 memory is not writable."""
    memory, pids = mount / "memory", mount / "pids"
    if not _usable_parent(memory):
        return None
    return CgroupHost(memory / PARENT, pids / PARENT if _usable_parent(pids) else None)


def _usable_parent(controller: Path) -> bool:
    try:
        if not (controller / "cgroup.procs").is_file():
            return False
        (controller / PARENT).mkdir(exist_ok=True)
    except OSError:
        return False
    return os.access(controller / PARENT, os.W_OK)


class Jail:
    """One execution's cgroups. Create, join from the child, kill members, remove."""

    def __init__(self, memory: Path, directories: list[Path]) -> None:
        self.memory = memory
        self.directories = directories

    @classmethod
    def create(cls, host: CgroupHost, memory_bytes: int, pids_max: int) -> Jail:
        name = f"{owner()}-{uuid.uuid4().hex[:12]}"
        memory = host.memory / name
        jail = cls(memory, [])
        try:
            memory.mkdir()
            jail.directories.append(memory)
            _write(memory / "memory.limit_in_bytes", memory_bytes)
            # Without this, swap would let the program exceed the limit where swap exists.
            with contextlib.suppress(OSError):
                _write(memory / "memory.memsw.limit_in_bytes", memory_bytes)
            if host.pids is not None:
                pids = host.pids / name
                pids.mkdir()
                jail.directories.append(pids)
                _write(pids / "pids.max", pids_max)
        except BaseException:
            jail.remove_empty()
            raise
        return jail

    @property
    def name(self) -> str:
        return self.memory.name

    def members(self) -> set[int]:
        found: set[int] = set()
        for directory in self.directories:
            with contextlib.suppress(OSError):
                found.update(int(pid) for pid in (directory / "cgroup.procs").read_text().split())
        return found

    def kill_members(self) -> bool:
        """SIGKILL everything inside; True when nothing was left to kill."""
        members = self.members()
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return not members

    def memory_exhausted(self) -> bool:
        """Whether the kernel killed something in here for exceeding the memory limit.

        Reads the `oom_kill` counter of memory.oom_control (Linux 4.13+); on older
        kernels falls back to memory.failcnt, which also counts reclaimed near-misses.
        """
        with contextlib.suppress(OSError, ValueError):
            for line in (self.memory / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
            return int((self.memory / "memory.failcnt").read_text()) > 0
        return False

    def remove_empty(self) -> bool:
        """Remove the (already empty) cgroups; True when all are gone."""
        for directory in list(self.directories):
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                return False
            self.directories.remove(directory)
        return True


def owner() -> str:
    """This process as named in its jails: pid namespace inode, then pid."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{namespace}-{os.getpid()}"


def sweep_stale(host: CgroupHost) -> list[str]:
    """Remove jails whose host process is gone (it crashed mid-execution); returns names.

    Only jails from this pid namespace are considered, since a pid from another one
    says nothing here. Members are killed; a jail whose members have not exited yet is
    left for the next sweep.
    """
    namespace = owner().partition("-")[0]
    removed: list[str] = []
    for parent in (host.memory, host.pids):
        if parent is None:
            continue
        with contextlib.suppress(OSError):
            for directory in parent.iterdir():
                their_namespace, _, rest = directory.name.partition("-")
                pid = rest.partition("-")[0]
                if (
                    not directory.is_dir()
                    or their_namespace != namespace
                    or not pid.isdigit()
                    or alive(int(pid))
                ):
                    continue
                stale = Jail(directory, [directory])
                if stale.kill_members() and stale.remove_empty():
                    removed.append(f"{parent.parent.name}/{directory.name}")
    return removed


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (in this pid namespace)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _write(path: Path, value: int) -> None:
    path.write_text(str(value))
