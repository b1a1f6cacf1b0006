"""Each kernel in its own PID and mount namespace: a sandbox's processes, /proc and /tmp.

Why: at E2B a sandbox is a Firecracker VM. Its code sees only its own processes (so not the
server's environment through /proc/<pid>/environ), its /tmp is its own, and when the VM
goes, every process in it goes, `setsid()` escapees included. Locally a kernel runs as

    setpriv --pdeathsig KILL -- unshare --pid --fork --mount-proc --kill-child -- \\
        /bin/sh -c INIT turnout-kernel-init KERNEL-ARGV...

`unshare` is the process the server starts: the kernel's pid in the admin stats and the
leader of the process group the server signals. It moves into a new mount namespace
(propagation private: nothing mounted there shows on the host) and forks PID 1 of a new
PID namespace, which mounts a /proc of its own and runs INIT, a shell that runs the kernel
as its child and exits with its status. The kernel is not PID 1 itself because the init of
a PID namespace ignores every signal it has no handler for, even SIGKILL when it comes
from inside: user code killing the kernel's own process would do nothing. Killing the group
kills unshare, the init and the kernel; the init's death makes the (Linux) kernel kill
everything else in the namespace. `--kill-child` kills the init if unshare alone dies, and
`setpriv --pdeathsig` kills unshare if the server dies without stopping its sandboxes.

Scratch directories and pre-started kernels. A kernel is started (for the pool) before it
belongs to a sandbox, so at start its /tmp is still the host's; no user code runs there.
When a sandbox adopts it, `Scratch.enter` enters the kernel's namespaces (`nsenter`) and
mounts the sandbox's own scratch directories over /tmp, /var/tmp and /dev/shm. Every kernel
of the sandbox gets the same ones (its python and javascript kernels, contexts it creates,
kernels restarted after a crash), so they share /tmp like the processes of one machine, and
the directories are deleted with the sandbox. The sandbox's home normally lies under /tmp
too (in the server's temp root); so that it still resolves at its host path, it is first
bind-mounted onto the same path inside the scratch /tmp (an "anchor"), as are the
interpreter's and the server's own directories when they lie under a covered directory.
Inside the sandbox /tmp then holds that path (`/tmp/turnout-e2b-.../sandboxes/<id>`), an
alias of the home, and nothing else of the server's temp root.

What it does not give: the kernels run as the server's user (root on this project's
machines) with its capabilities, so user code can undo every mount; the network, the Linux
kernel and the rest of the filesystem are the host's (a server root outside /tmp, set with
`--root-dir`, stays reachable by absolute path, other sandboxes' directories included); and
the python and javascript kernels of one sandbox live in two PID namespaces, so neither
sees the other's processes. It emulates a VM's view for ordinary code; it is not a
security boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "INIT_NAME",
    "SCRATCH_DIRECTORIES",
    "Isolation",
    "IsolationError",
    "Scratch",
    "find",
]

UNSHARE_FLAGS = ("--pid", "--fork", "--mount-proc", "--kill-child")
SHELL = "/bin/sh"
INIT_NAME = "turnout-kernel-init"
# The namespace's PID 1. `"$@"` is not the last command, so the shell forks it rather than
# exec'ing it, and stays to wait (reaping orphans as it does). JPY_PARENT_PID would make
# ipykernel stop itself as soon as it sees that its parent is PID 1; the Python kernel is
# started without it, this only makes sure.
INIT_SCRIPT = 'unset JPY_PARENT_PID\n"$@"\nexit "$?"\n'
# Where programs customarily write scratch files; each sandbox gets private copies.
SCRATCH_DIRECTORIES = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
# Where the tools are looked for first (then on PATH); they run with this PATH only.
TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Run by nsenter inside the kernel's namespaces: $1 is mount, $2 the fstab, $3 a descriptor
# open on the server's mount namespace, where mounting would cover the host's /tmp.
ENTER_SCRIPT = """\
if [ /proc/self/ns/mnt -ef "/proc/self/fd/$3" ]; then
  echo "refusing to mount in the server's own mount namespace" >&2
  exit 99
fi
exec "$1" -n -a -T "$2"
"""
ENTER_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 10.0
PROBE_MARKER = "turnout-isolation-probe"


class IsolationError(RuntimeError):
    """A kernel's namespaces could not be set up for its sandbox."""


@dataclass(frozen=True)
class Isolation:
    """How to start kernels in namespaces of their own, on this host.

    `covered`: the scratch directories that each sandbox gets private copies of.
    `anchors`: host paths every kernel must still reach that lie under one of them (the
    interpreter, the server's package), bind-mounted back at their own path.
    """

    unshare: str
    nsenter: str
    mount: str
    setpriv: str | None
    covered: tuple[Path, ...]
    anchors: tuple[Path, ...]

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` wrapped so that it runs in a new PID and mount namespace."""
        guard = [self.setpriv, "--pdeathsig", "KILL", "--"] if self.setpriv else []
        init = [SHELL, "-c", INIT_SCRIPT, INIT_NAME]
        return [*guard, self.unshare, *UNSHARE_FLAGS, "--", *init, *argv]

    def scratch(self, directory: Path, home: Path) -> Scratch:
        """Create a sandbox's scratch directories in `directory` (which must not exist).

        One directory per covered path (mode 1777, like /tmp), the anchors' mount points
        inside them, and the fstab that `Scratch.enter` mounts. The covered directory that
        holds `directory` itself is mounted last: once it is covered, the scratch
        directories can no longer be reached by their host paths in that namespace.
        """
        directory.mkdir(mode=0o700)
        directory, home = Path(os.path.realpath(directory)), Path(os.path.realpath(home))
        sources: dict[Path, Path] = {}
        for target in self.covered:
            source = directory / "-".join(target.parts[1:])
            source.mkdir()
            os.chmod(source, 0o1777)
            sources[target] = source
        binds: list[str] = []
        for anchor in _outermost([home, *self.anchors]):
            for target, source in sources.items():
                if anchor.is_relative_to(target):
                    mount_point = source / anchor.relative_to(target)
                    mount_point.mkdir(parents=True, exist_ok=True)
                    binds.append(_fstab_line(anchor, mount_point, "bind"))
        order = sorted(sources, key=lambda target: directory.is_relative_to(target))
        covers = [_fstab_line(sources[target], target, "rbind") for target in order]
        fstab = directory / "fstab"
        fstab.write_text("\n".join([*binds, *covers]) + "\n")
        return Scratch(self, directory, fstab, tuple((target, sources[target]) for target in order))


@dataclass(frozen=True)
class Scratch:
    """A sandbox's private scratch directories, mounted in each of its kernels' namespaces."""

    isolation: Isolation
    directory: Path
    fstab: Path
    mounts: tuple[tuple[Path, Path], ...]
    """(covered path, the sandbox's directory mounted over it)."""

    def enter_command(self, pid: int, guard_fd: int) -> list[str]:
        """The command that mounts the scratch directories for the kernel started as `pid`.

        `pid` is the `unshare` process: it is in the kernel's mount namespace, and its
        children's PID namespace is the kernel's. `mount` must run in that PID namespace
        too, or /proc/self (which it reads) would not resolve under the namespace's /proc.
        `guard_fd` must be a descriptor, inherited by the command, open on the server's own
        mount namespace (/proc/self/ns/mnt): the shell refuses to mount if it is there.
        """
        tools = self.isolation
        return [
            tools.nsenter,
            f"--target={pid}",
            "--mount",
            f"--pid=/proc/{pid}/ns/pid_for_children",
            "--",
            SHELL,
            "-c",
            ENTER_SCRIPT,
            "turnout-enter",
            tools.mount,
            str(self.fstab),
            str(guard_fd),
        ]

    def check_namespaces(self, pid: int) -> None:
        """Raise IsolationError unless `pid` is in a mount and PID namespace of its own.

        Mounting over /tmp in the server's own mount namespace would hide the host's /tmp
        from every process on it; this is checked here and again by the shell that mounts.
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
        """Mount the scratch directories in the namespaces of the kernel started as `pid`.

        Call it only once the kernel is running: until its namespaces are set up, `pid`
        may still be in the server's (the checks then refuse).
        """
        self.check_namespaces(pid)
        with _own_mount_namespace() as guard:
            process = await asyncio.create_subprocess_exec(
                *self.enter_command(pid, guard),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={"PATH": TOOL_PATH},
                pass_fds=(guard,),
            )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), ENTER_TIMEOUT_S)
        except BaseException as exc:  # timeout or cancellation: never leave it running
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            if isinstance(exc, TimeoutError):
                raise IsolationError("mounting the sandbox's scratch directories hung") from exc
            raise
        said = stderr.decode("utf-8", "replace").strip()
        if process.returncode != 0:
            raise IsolationError(
                f"mounting the sandbox's scratch directories failed "
                f"(exit status {process.returncode}): {said or 'no message'}"
            )
        self.check(pid)

    def check(self, pid: int) -> None:
        """Raise IsolationError unless every covered path is the sandbox's in that namespace.

        `/proc/<pid>/root/...` resolves in the mount namespace of `pid`. (`mount -a` skips
        entries it believes mounted already and still exits 0, so its status is not enough.)
        """
        for target, source in self.mounts:
            try:
                inside = os.stat(f"/proc/{pid}/root{target}")
                outside = os.stat(source)
            except OSError as exc:
                raise IsolationError(f"cannot check the kernel's {target}: {exc}") from exc
            if (inside.st_dev, inside.st_ino) != (outside.st_dev, outside.st_ino):
                raise IsolationError(f"the kernel's {target} is not the sandbox's own")


def find(probe_parent: Path) -> tuple[Isolation | None, str]:
    """Isolation if this host can run kernels in namespaces; otherwise None and why not.

    Probes once, end to end, in a directory created in `probe_parent` (the server's root,
    where sandboxes will live): starts a wrapped shell, mounts a scratch directory into
    its namespace and has the shell check that it sees it, and the home, as a kernel would.
    """
    search = os.pathsep.join([TOOL_PATH, os.environ.get("PATH", "")])
    tools = {name: shutil.which(name, path=search) for name in ("unshare", "nsenter", "mount")}
    missing = [name for name, path in tools.items() if path is None]
    if missing:
        return None, f"{', '.join(missing)} (util-linux) not found"
    if not os.access(SHELL, os.X_OK):
        return None, f"{SHELL} is missing"
    covered = tuple(_real_directories(SCRATCH_DIRECTORIES))
    isolation = Isolation(
        unshare=str(tools["unshare"]),
        nsenter=str(tools["nsenter"]),
        mount=str(tools["mount"]),
        setpriv=shutil.which("setpriv", path=search),
        covered=covered,
        anchors=tuple(_static_anchors(covered)),
    )
    problem = _probe(isolation, probe_parent)
    return (isolation, "") if problem is None else (None, problem)


def _probe(isolation: Isolation, parent: Path) -> str | None:
    """Run the whole mechanism once; None if it worked, else what went wrong."""
    try:
        workdir = Path(tempfile.mkdtemp(prefix="probe-", dir=parent))
    except OSError as exc:
        return f"cannot create a probe directory: {exc}"
    process: subprocess.Popen[bytes] | None = None
    try:
        home = workdir / "home"
        home.mkdir()
        (home / PROBE_MARKER).touch()
        scratch = isolation.scratch(workdir / "scratch", home)
        covered, source = scratch.mounts[-1]
        (source / PROBE_MARKER).touch()
        # PID 2 (after the init) says it runs, waits until the mounts are done, then checks.
        program = (
            f'[ "$$" = 2 ] && echo ready && read -r _ && [ -e "{covered}/{PROBE_MARKER}" ] '
            f'&& [ -e "$1/{PROBE_MARKER}" ]'
        )
        process = subprocess.Popen(
            isolation.command([SHELL, "-c", program, "probe", str(home)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=home,
            env={"PATH": TOOL_PATH},
            start_new_session=True,
        )
        assert process.stdout is not None
        if not _ready(process.stdout, PROBE_TIMEOUT_S):
            process.kill()
            _, stderr = process.communicate(timeout=PROBE_TIMEOUT_S)
            said = stderr.decode("utf-8", "replace").strip()
            return f"{isolation.unshare} failed (exit status {process.returncode}): {said}"
        scratch.check_namespaces(process.pid)
        with _own_mount_namespace() as guard:
            entered = subprocess.run(
                scratch.enter_command(process.pid, guard),
                capture_output=True,
                env={"PATH": TOOL_PATH},
                timeout=PROBE_TIMEOUT_S,
                pass_fds=(guard,),
                check=False,
            )
        if entered.returncode != 0:
            said = entered.stderr.decode("utf-8", "replace").strip()
            return f"mounting in the namespace failed (exit status {entered.returncode}): {said}"
        scratch.check(process.pid)
        _, stderr = process.communicate(b"\n", timeout=PROBE_TIMEOUT_S)
        if process.returncode != 0:
            said = stderr.decode("utf-8", "replace").strip()
            status = process.returncode
            return f"the probe did not see its scratch directories (exit status {status}): {said}"
        return None
    except (OSError, subprocess.SubprocessError, IsolationError) as exc:
        return f"namespaces are not usable here: {exc}"
    finally:
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _ready(stream: IO[bytes], timeout_s: float) -> bool:
    """Whether `stream` yields the line "ready" within `timeout_s`."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return False
    return stream.readline() == b"ready\n"


@contextlib.contextmanager
def _own_mount_namespace() -> Iterator[int]:
    """A descriptor open on this process's mount namespace, for ENTER_SCRIPT's guard."""
    fd = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def _real_directories(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        real = Path(os.path.realpath(path))
        if real.is_dir() and real not in found:
            found.append(real)
    return found


def _static_anchors(covered: Sequence[Path]) -> list[Path]:
    """Directories a kernel needs (interpreter, libraries, this package, Node) under `covered`."""
    package = str(Path(__file__).parent)
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path, package]
    node = shutil.which("node")
    if node is not None:
        candidates.append(str(Path(os.path.realpath(node)).parent.parent))
    real = _real_directories(Path(c) for c in candidates if c and os.path.isabs(c))
    return [path for path in real if any(path.is_relative_to(t) for t in covered)]


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """`paths` without those inside another one (binding the outer one brings them along)."""
    unique = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return kept


def _fstab_line(source: Path, target: Path, option: str) -> str:
    return f"{_fstab_field(source)} {_fstab_field(target)} none {option} 0 0"


def _fstab_field(path: Path) -> str:
    """A path as one fstab field: spaces, tabs, newlines and backslashes as octal escapes."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in str(path))
