"""One sandbox's machine and user, made in each of its kernels' namespaces and then checked.

Why: a kernel is started (in namespaces of its own, as root, see isolation.py) before it
belongs to a sandbox. When a sandbox adopts it, `SandboxMounts.enter` forks a child of the
server that enters the kernel's network and mount namespaces and shapes them (see
confine.py): loopback up, the host read-only, /root and /home hidden, the sandbox's
directory on /home/user, its scratch directories over /tmp, /var/tmp and /dev/shm. Every
kernel of the sandbox gets the same ones (its python and javascript kernels, contexts it
creates, kernels restarted after a crash), so they share /home/user and /tmp like the
processes of one machine. The kernel then drops root for the sandbox's uid and gid (the
kernel does it itself: only it can), and `verify_unprivileged` checks, from outside, that
every process in its namespace but the init runs as that user, with no capability, no
supplementary group and no way to gain privileges.

A forked child rather than a command: a process may enter another mount namespace only
while it is single-threaded, and starting `nsenter` and an interpreter per kernel cost a
create hundreds of milliseconds on a loaded machine; the fork costs a few.

Each live sandbox has a uid and gid of its own, SANDBOX_UID_BASE + n (no passwd entry):
sandboxes cannot signal, trace or read each other's processes or files even by a path
they should never see. Its directory is chowned to that user; files the server writes
into it (uploads) are chowned too.

Because that uid is the sandbox's alone, Linux's per-user process limit (RLIMIT_NPROC,
set on its kernels before they drop root, inherited by everything they start) bounds the
whole sandbox: SANDBOX_MAX_PROCESSES processes and threads, both kernels' own included, as
local-subprocess's `pids.max` bounds an execution. A fork bomb gets EAGAIN instead of
filling the host with processes that starve the server and every other sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import select
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from turnout_e2b_server.confine import ConfineError, Cover, clone_tree, confine, enter_namespaces

__all__ = [
    "MAX_SANDBOX_USERS",
    "SANDBOX_GID_BASE",
    "SANDBOX_MAX_PROCESSES",
    "SANDBOX_UID_BASE",
    "IsolationError",
    "SandboxMounts",
]

SANDBOX_UID_BASE = 1_500_000_000
SANDBOX_GID_BASE = 1_500_000_000
MAX_SANDBOX_USERS = 65_536
# Processes and threads of one sandbox (its kernels hold about 20 threads).
SANDBOX_MAX_PROCESSES = 256
ENTER_TIMEOUT_S = 20.0
MESSAGE_BYTES = 4096


class IsolationError(RuntimeError):
    """A kernel's namespaces could not be set up, or checked, for its sandbox."""


@dataclass(frozen=True)
class SandboxMounts:
    """A sandbox's directories and user, to attach to each of its kernels."""

    directory: Path
    """The sandbox's scratch directory (one copy per covered path inside)."""
    covers: tuple[Cover, ...]
    """Directories hidden under an empty tmpfs, with the mount points made in it."""
    mounts: tuple[tuple[Path, Path], ...]
    """(path inside the kernel, the sandbox's directory mounted there)."""
    keep: tuple[Path, ...]
    """Host paths under a covered path that a kernel needs, bound back read-only."""
    uid: int
    gid: int

    async def enter(self, pid: int) -> None:
        """Shape the namespaces of the kernel started as `pid` into the sandbox's machine
        (call it once the kernel runs), then check the result."""
        with self._namespaces(pid) as namespaces, self._copies() as trees:
            await asyncio.to_thread(self._confine_in_child, namespaces, trees)
        self.check(pid)
        self.limit_processes(pid)

    def enter_blocking(self, pid: int) -> None:
        """`enter`, for callers without an event loop (the start-up probe)."""
        with self._namespaces(pid) as namespaces, self._copies() as trees:
            self._confine_in_child(namespaces, trees)
        self.check(pid)
        self.limit_processes(pid)

    def limit_processes(self, pid: int) -> None:
        """Set the sandbox's process limit on every process under the kernel's init
        (started as `pid`); what they start inherits it. Root ignores it, so it only binds
        once the kernel runs as the sandbox's user."""
        limit = (SANDBOX_MAX_PROCESSES, SANDBOX_MAX_PROCESSES)
        for init in _children(pid):
            for process in _descendants(init):
                try:
                    resource.prlimit(process, resource.RLIMIT_NPROC, limit)
                except ProcessLookupError:
                    continue
                except OSError as exc:
                    raise IsolationError(f"cannot limit the sandbox's processes: {exc}") from exc

    def check_namespaces(self, pid: int, process: int | None = None) -> None:
        """Raise IsolationError unless `pid` is in a mount and PID namespace of its own.

        Shaping the server's own mount namespace would hide the host's /tmp from every
        process on it. `process`, a descriptor of /proc/<pid>, pins the process checked.
        """
        for own, theirs in (("mnt", "mnt"), ("pid", "pid_for_children")):
            try:
                mine = os.stat(f"/proc/self/ns/{own}")
                if process is None:
                    other = os.stat(f"/proc/{pid}/ns/{theirs}")
                else:
                    other = os.stat(f"ns/{theirs}", dir_fd=process)
            except OSError as exc:
                raise IsolationError(f"cannot inspect the kernel's namespaces: {exc}") from exc
            if (mine.st_dev, mine.st_ino) == (other.st_dev, other.st_ino):
                raise IsolationError(f"process {pid} is not in a {own} namespace of its own")

    @contextlib.contextmanager
    def _namespaces(self, pid: int) -> Iterator[int]:
        """A descriptor of the kernel's process, checked to be in namespaces of its own.

        Held from the check to the fork, so that a pid reused meanwhile cannot lead the
        child into another process's namespaces (the child enters through this one).
        """
        try:
            fd = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise IsolationError(f"the kernel started as {pid} is gone: {exc}") from exc
        try:
            self.check_namespaces(pid, fd)
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _copies(self) -> Iterator[list[int]]:
        """Detached copies of the sandbox's directories, made in the server's own mount
        namespace (the kernel cannot see them), for the child to mount."""
        trees: list[int] = []
        try:
            for _, source in self.mounts:
                trees.append(clone_tree(str(source)))
            yield trees
        except ConfineError as exc:
            raise IsolationError(f"cannot copy the sandbox's directories: {exc}") from exc
        finally:
            for tree in trees:
                os.close(tree)

    def _confine_in_child(self, process: int, trees: Sequence[int]) -> None:
        """Fork, and in the child enter the namespaces of the process whose /proc directory
        `process` is and run `confine` there; raise IsolationError with what it reported."""
        targets = [str(target) for target, _ in self.mounts]
        binds = list(zip(trees, targets, strict=True))
        keep = [str(path) for path in self.keep]
        readable, writable = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the child's work is checked by its effects
            code = 1
            try:
                os.close(readable)
                enter_namespaces(process)
                confine(self.covers, binds, keep)
                code = 0
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    os.write(writable, f"{type(exc).__name__}: {exc}".encode()[:MESSAGE_BYTES])
            finally:
                os._exit(code)
        os.close(writable)
        try:
            ready, _, _ = select.select([readable], [], [], ENTER_TIMEOUT_S)
            said = os.read(readable, MESSAGE_BYTES).decode("utf-8", "replace") if ready else ""
        finally:
            os.close(readable)
        if not ready:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, 9)
        _, status = os.waitpid(child, 0)
        if not ready:
            raise IsolationError("setting up the sandbox's namespaces hung")
        if status != 0:
            raise IsolationError(f"setting up the sandbox's namespaces failed: {said or status}")

    def check(self, pid: int) -> None:
        """Raise IsolationError unless every mount point is the sandbox's in that namespace.

        `/proc/<pid>/root/...` resolves in the mount namespace of `pid`.
        """
        for target, source in self.mounts:
            try:
                inside = os.stat(f"/proc/{pid}/root{target}")
                outside = os.stat(source)
            except OSError as exc:
                raise IsolationError(f"cannot check the kernel's {target}: {exc}") from exc
            if (inside.st_dev, inside.st_ino) != (outside.st_dev, outside.st_ino):
                raise IsolationError(f"the kernel's {target} is not the sandbox's own")

    def verify_unprivileged(self, pid: int) -> None:
        """Raise IsolationError unless every process and thread under the kernel's init
        (started as `pid`) runs as the sandbox's user, with no capability, no
        supplementary group, no_new_privs set and the sandbox's process limit."""
        inits = _children(pid)
        if not inits:
            raise IsolationError(f"the kernel started as {pid} has no init any more")
        found = 0
        for init in inits:
            for process in _descendants(init):
                limit = _process_limit(process)
                if limit is not None and limit > SANDBOX_MAX_PROCESSES:
                    raise IsolationError(f"process {process} of the sandbox may start {limit}")
                for status in _task_statuses(process):
                    found += 1
                    problem = self._privilege_problem(status)
                    if problem:
                        raise IsolationError(f"process {process} of the sandbox {problem}")
        if not found:
            raise IsolationError(f"the kernel started as {pid} has no process running")

    def _privilege_problem(self, status: dict[str, str]) -> str | None:
        ids = [int(value) for value in status.get("Uid", "").split()]
        groups = [int(value) for value in status.get("Gid", "").split()]
        if not ids or any(value != self.uid for value in ids):
            return f"runs as uid {status.get('Uid')}, not {self.uid}"
        if not groups or any(value != self.gid for value in groups):
            return f"runs as gid {status.get('Gid')}, not {self.gid}"
        extra = [int(value) for value in status.get("Groups", "").split()]
        if any(group != self.gid for group in extra):
            return f"has supplementary groups {extra}"
        for capabilities in ("CapPrm", "CapEff", "CapAmb"):
            if int(status.get(capabilities, "0"), 16):
                return f"holds capabilities ({capabilities} {status[capabilities]})"
        if status.get("NoNewPrivs") != "1":
            return "may gain privileges (no_new_privs is not set)"
        return None


def _children(pid: int) -> list[int]:
    """Child processes of `pid` (every thread's), from /proc."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError, ValueError):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found.extend(int(child) for child in text.split())
    return found


def _descendants(pid: int) -> list[int]:
    """Every process under `pid`, not `pid` itself."""
    found: list[int] = []
    pending = _children(pid)
    while pending:
        process = pending.pop()
        found.append(process)
        pending.extend(_children(process))
    return found


def _task_statuses(pid: int) -> list[dict[str, str]]:
    """The /proc status fields of every thread of `pid` (none if it has exited)."""
    statuses: list[dict[str, str]] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                lines = Path(f"/proc/{pid}/task/{task}/status").read_text().splitlines()
                statuses.append(
                    {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}
                )
    return statuses


def _process_limit(pid: int) -> int | None:
    """The soft RLIMIT_NPROC of `pid` (None if it has exited; a large number if unlimited)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max processes"):
                soft = line.split()[2]
                return sys.maxsize if soft == "unlimited" else int(soft)
    return None
