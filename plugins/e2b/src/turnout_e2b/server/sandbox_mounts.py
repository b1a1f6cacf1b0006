"""One sandbox's mounts and user, made in each of its kernels' namespaces and then checked.

Why: a kernel is started (sealed, as root, see isolation.py) before it belongs to a
sandbox. When a sandbox adopts it, `SandboxMounts.enter` enters the kernel's mount and PID
namespaces (`nsenter`) and runs `confine.py attach` there: the sandbox's directory goes on
/home/user, its scratch directories over /tmp, /var/tmp and /dev/shm. Every kernel of the
sandbox gets the same ones (its python and javascript kernels, contexts it creates,
kernels restarted after a crash), so they share /home/user and /tmp like the processes of
one machine. The kernel then drops root for the sandbox's uid and gid (the kernel does it
itself: only it can), and `verify_unprivileged` checks, from outside, that every process
in its namespace but the init runs as that user, with no capability, no supplementary
group and no way to gain privileges.

Each live sandbox has a uid and gid of its own, SANDBOX_UID_BASE + n (no passwd entry):
sandboxes cannot signal, trace or read each other's processes or files even by a path
they should never see. Its directory is chowned to that user; files the server writes
into it (uploads) are chowned too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from turnout_e2b.server.confine import ConfineError, clone_tree

__all__ = [
    "MAX_SANDBOX_USERS",
    "SANDBOX_GID_BASE",
    "SANDBOX_UID_BASE",
    "IsolationError",
    "SandboxMounts",
]

SANDBOX_UID_BASE = 1_500_000_000
SANDBOX_GID_BASE = 1_500_000_000
MAX_SANDBOX_USERS = 65_536
# Where nsenter and the tools run with; nothing else of the server's environment.
TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ENTER_TIMEOUT_S = 20.0


class IsolationError(RuntimeError):
    """A kernel's namespaces could not be set up, or checked, for its sandbox."""


@dataclass(frozen=True)
class SandboxMounts:
    """A sandbox's directories and user, to attach to each of its kernels."""

    nsenter: str
    python: str
    confine: str
    directory: Path
    """The sandbox's scratch directory (one copy per covered path inside)."""
    mounts: tuple[tuple[Path, Path], ...]
    """(path inside the kernel, the sandbox's directory mounted there)."""
    keep: tuple[Path, ...]
    """Host paths under a covered path that a kernel needs, bound back read-only."""
    uid: int
    gid: int

    def attach_spec(self, guard_fd: int, trees: Sequence[int]) -> dict[str, object]:
        """What `confine.py attach` mounts (see its docstring); `trees` are the detached
        copies of the sandbox's directories, in the order of `mounts`."""
        targets = [str(target) for target, _ in self.mounts]
        return {
            "guard_fd": guard_fd,
            "binds": [list(pair) for pair in zip(trees, targets, strict=True)],
            "keep": [str(path) for path in self.keep],
        }

    def enter_command(self, pid: int, guard_fd: int, trees: Sequence[int]) -> list[str]:
        """The command that attaches the sandbox to the kernel started as `pid`.

        `pid` is the `unshare` process: it is in the kernel's mount namespace, and its
        children's PID namespace is the kernel's (the script reads /proc/self, which only
        resolves in there). `guard_fd` and `trees` must be descriptors the command inherits:
        `guard_fd` open on the server's own mount namespace (the script refuses to mount
        there), `trees` the copies of the sandbox's directories (`_copies`).
        """
        spec = json.dumps(self.attach_spec(guard_fd, trees), separators=(",", ":"))
        return [
            self.nsenter,
            f"--target={pid}",
            "--mount",
            f"--pid=/proc/{pid}/ns/pid_for_children",
            "--",
            self.python,
            "-I",
            "-S",
            self.confine,
            "attach",
            spec,
        ]

    def check_namespaces(self, pid: int) -> None:
        """Raise IsolationError unless `pid` is in a mount and PID namespace of its own.

        Mounting over /tmp in the server's own mount namespace would hide the host's /tmp
        from every process on it; this is checked here and again by the script.
        """
        for own, theirs in (("mnt", "mnt"), ("pid", "pid_for_children")):
            try:
                mine = os.stat(f"/proc/self/ns/{own}")
                other = os.stat(f"/proc/{pid}/ns/{theirs}")
            except OSError as exc:
                raise IsolationError(f"cannot inspect the kernel's namespaces: {exc}") from exc
            if (mine.st_dev, mine.st_ino) == (other.st_dev, other.st_ino):
                raise IsolationError(f"process {pid} is not in a {own} namespace of its own")

    async def enter(self, pid: int) -> None:
        """Attach the sandbox to the kernel started as `pid` (once it runs), then check."""
        self.check_namespaces(pid)
        with _own_mount_namespace() as guard, self._copies() as trees:
            process = await asyncio.create_subprocess_exec(
                *self.enter_command(pid, guard, trees),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={"PATH": TOOL_PATH},
                pass_fds=(guard, *trees),
            )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), ENTER_TIMEOUT_S)
        except BaseException as exc:  # timeout or cancellation: never leave it running
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            if isinstance(exc, TimeoutError):
                raise IsolationError("attaching the sandbox's directories hung") from exc
            raise
        self._attached(process.returncode, stderr, pid)

    def enter_blocking(self, pid: int) -> None:
        """`enter`, for callers without an event loop (the start-up probe)."""
        self.check_namespaces(pid)
        with _own_mount_namespace() as guard, self._copies() as trees:
            try:
                done = subprocess.run(
                    self.enter_command(pid, guard, trees),
                    capture_output=True,
                    env={"PATH": TOOL_PATH},
                    timeout=ENTER_TIMEOUT_S,
                    pass_fds=(guard, *trees),
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise IsolationError("attaching the sandbox's directories hung") from exc
        self._attached(done.returncode, done.stderr, pid)

    @contextlib.contextmanager
    def _copies(self) -> Iterator[list[int]]:
        """Detached copies of the sandbox's directories, made in the server's own mount
        namespace (the sealed kernel cannot see them), for the attach command."""
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

    def _attached(self, status: int | None, stderr: bytes, pid: int) -> None:
        if status != 0:
            said = stderr.decode("utf-8", "replace").strip()
            raise IsolationError(
                f"attaching the sandbox's directories failed (exit status {status}): "
                f"{said or 'no message'}"
            )
        self.check(pid)

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
        supplementary group and no_new_privs set."""
        inits = _children(pid)
        if not inits:
            raise IsolationError(f"the kernel started as {pid} has no init any more")
        found = 0
        for init in inits:
            for process in _descendants(init):
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


@contextlib.contextmanager
def _own_mount_namespace() -> Iterator[int]:
    """A descriptor open on this process's mount namespace, for the attach guard."""
    fd = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


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
