"""How one execution is confined: rlimits, its cgroup jail when there is one, its session.

Where cgroups are available they bound memory and process count for the whole process
tree and let everything be killed, `setsid()` escapees included. Rlimits apply in both
modes, per process, so that running out of memory is an error the program can report
rather than a kill: RLIMIT_AS for Python (a catchable MemoryError), RLIMIT_DATA for Node
(RLIMIT_AS kills Node at start-up because V8 reserves a large virtual range, but those
reservations are not writable and do not count as data; Buffers past the limit fail with
a RangeError), plus `--max-old-space-size` for the V8 heap. With namespaces (`isolation`)
the memory rlimit is set by the namespace's init just before it starts the interpreter, so
that `unshare` and `mount` do not run under it; RLIMIT_CORE is set for everything.

Killing: the session (process group), then the jail's members; with namespaces, first the
namespace's init, whose death makes the kernel kill everything else in the namespace.
Without cgroups or namespaces, killing relies on the session plus a scan for processes
working inside the execution's directory; a process that leaves both is out of reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from turnout.models import Language
from turnout_local_subprocess.cgroups import CgroupHost, Jail

__all__ = ["Confinement", "Released", "node_heap_mb"]

# How long release() keeps killing before it gives up. The backend waits for it only for
# a fraction of this (its post-deadline budget) and lets it finish in the background.
RELEASE_TIMEOUT_S = 2.0
POLL_S = 0.005
ENTER_SHELL = "/bin/sh"
ENTER_NAME = "turnout-enter"
# $0 is ENTER_NAME; then the cgroup.procs files, "--", ulimit flag and value pairs, "--",
# and the program's own command.
ENTER_SCRIPT = (
    'while [ "$1" != -- ]; do '
    'printf 0 2>/dev/null > "$1" || { echo "$0: could not enter the cgroup ($1)" >&2; exit 126; }; '
    "shift; done; shift; "
    'while [ "$1" != -- ]; do '
    'ulimit "$1" "$2" 2>/dev/null || { echo "$0: could not set ulimit $1 $2" >&2; exit 126; }; '
    "shift 2; done; shift; "
    'exec "$@"'
)


def node_heap_mb(memory_mb: int) -> int:
    """V8's old-space cap: below the cgroup limit, so V8 fails cleanly before the kernel kills."""
    return max(16, memory_mb * 3 // 4)


@dataclass(frozen=True)
class Released:
    """How release() ended: whether processes or the jail were left behind."""

    processes_left: bool = False
    cgroup_left: bool = False


@dataclass
class Confinement:
    """Limits and kill switch for one execution; `session` is set once the child exists.

    `isolated`: the child is `unshare`, and its own child is the init of the execution's
    PID namespace. Both are held as pidfds, so that a recycled pid is never signalled.
    """

    language: Language
    memory_bytes: int
    workdir: Path
    jail: Jail | None = None
    isolated: bool = False
    session: int | None = None
    leader_fd: int | None = field(default=None, repr=False)
    init_fd: int | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        language: Language,
        *,
        memory_mb: int,
        pids_max: int,
        workdir: Path,
        cgroups: CgroupHost | None,
        isolated: bool = False,
    ) -> Confinement:
        memory_bytes = memory_mb * 1024 * 1024
        jail = Jail.create(cgroups, memory_bytes, pids_max) if cgroups is not None else None
        return cls(language, memory_bytes, workdir, jail, isolated)

    @property
    def shell_limit(self) -> tuple[str, int]:
        """The memory rlimit as `ulimit` sets it: -v (RLIMIT_AS) or -d (RLIMIT_DATA), KiB."""
        return ("-v" if self.language == "python" else "-d", self.memory_bytes // 1024)

    def prelude(self) -> list[str]:
        """The command the program's own is appended to: a shell that enters the jail
        (writes itself to each `cgroup.procs`: what it forks and execs stays inside) and sets
        the rlimits, then `exec`s the program. With namespaces only RLIMIT_CORE is set here;
        the init sets the memory limit.

        Why not a `preexec_fn`: CPython 3.11 runs its after-fork code in a child forked for
        one, and that code takes the interpreter's thread-state lock, which another thread
        may have held at the fork (the e2b SDK's HTTP threads take it for every response):
        the child then waits forever. No Python runs between this fork and the exec. A
        failure exits 126 with the reason on stderr, like an `exec` that failed.
        """
        procs = [str(d / "cgroup.procs") for d in self.jail.directories] if self.jail else []
        limits = [("-c", 0), *(() if self.isolated else (self.shell_limit,))]
        flags = [str(part) for flag, value in limits for part in (flag, value)]
        return [ENTER_SHELL, "-c", ENTER_SCRIPT, ENTER_NAME, *procs, "--", *flags, "--"]

    def attach(self, pid: int) -> None:
        """Remember the started child: its pid is also its session and process-group id."""
        self.session = pid
        if self.isolated:
            with contextlib.suppress(OSError):  # it has already exited and been reaped
                self.leader_fd = os.pidfd_open(pid)

    def kill_all(self) -> bool:
        """SIGKILL everything the program started; True when nothing was left to kill.

        With namespaces the init goes first: the kernel then kills the rest of the
        namespace, and the init only finishes exiting once that is done, so "the init has
        exited" means "nothing in the namespace is left".
        """
        self._watch_init()
        if self.init_fd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.init_fd, signal.SIGKILL)
        if self.session is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.session, signal.SIGKILL)
        if self.jail is not None:
            nothing_left = self.jail.kill_members()
        else:
            stragglers = _stragglers(self.session, self.workdir)
            for pid in stragglers:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            nothing_left = not stragglers
        return nothing_left and self._init_exited()

    def memory_exhausted(self) -> bool:
        return self.jail is not None and self.jail.memory_exhausted()

    async def release(self, timeout_s: float | None = None) -> Released:
        """Kill until nothing is left, then remove the jail; says what was left if not.

        Killing repeats while waiting (at most `timeout_s`, default RELEASE_TIMEOUT_S), so
        processes forked during a pass die too (`pids.max` keeps that race short).
        """
        deadline = time.monotonic() + (RELEASE_TIMEOUT_S if timeout_s is None else timeout_s)
        try:
            while True:
                nothing_left = self.kill_all()
                if nothing_left and (self.jail is None or self.jail.remove_empty()):
                    return Released()
                if time.monotonic() >= deadline:
                    return Released(
                        processes_left=not nothing_left, cgroup_left=self.jail is not None
                    )
                await asyncio.sleep(POLL_S)
        finally:
            self.close()

    def close(self) -> None:
        """Let go of the pidfds (release() does this)."""
        for fd in (self.leader_fd, self.init_fd):
            if fd is not None:
                os.close(fd)
        self.leader_fd = self.init_fd = None

    def _watch_init(self) -> None:
        """Hold the namespace's init as a pidfd, once it exists and while `unshare` lives.

        `unshare` is only looked at while its own pidfd says it has not exited, so its pid
        and its children are the real ones. Once it has exited on its own, its init exited
        before it, and with the init the whole namespace: there is nothing to watch. (If
        it was killed, `--kill-child` kills the init.)
        """
        if self.init_fd is not None or self.leader_fd is None or self.session is None:
            return
        if _exited(self.leader_fd):
            return
        child = _first_child(self.session)
        if child is None:
            return
        try:
            fd = os.pidfd_open(child)
        except OSError:
            return
        if _parent(child) != self.session or _exited(self.leader_fd):
            os.close(fd)  # not the init, or no longer known to be
            return
        self.init_fd = fd

    def _init_exited(self) -> bool:
        return self.init_fd is None or _exited(self.init_fd)


def _exited(pidfd: int) -> bool:
    """Whether the process behind a pidfd has exited (a pidfd polls readable then)."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


def _first_child(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return int(children[0]) if children else None
    return None


def _parent(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[1])
    return None


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
