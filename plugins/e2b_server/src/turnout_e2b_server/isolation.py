"""Each kernel in namespaces of its own, as an unprivileged user: a sandbox's machine.

Why: at E2B a sandbox is a Firecracker VM. Its code sees only its own processes, files and
network; it cannot reach E2B's control plane, another sandbox or the host; and when the VM
goes, every process in it goes. Locally a kernel runs as

    setpriv --pdeathsig KILL --no-new-privs -- \\
        unshare --pid --fork --mount-proc --kill-child --net --ipc -- \\
        /bin/sh -c INIT turnout-kernel-init KERNEL-ARGV...

`unshare` is the process the server starts: the kernel's pid in the admin stats and the
leader of the process group the server signals. It moves into new mount, network and IPC
namespaces and forks PID 1 of a new PID namespace, which mounts a /proc of its own and runs
INIT, a shell that runs the kernel as its child and exits with its status. The kernel is
not PID 1 itself because the init of a PID namespace ignores every signal it has no
handler for, even SIGKILL when it comes from inside. Killing the group kills unshare, the
init and the kernel; the init's death makes the (Linux) kernel kill everything else in the
namespace. `--kill-child` kills the init if unshare alone dies, `--pdeathsig` kills
unshare if the server dies without stopping its sandboxes, and `--no-new-privs` means
nothing started in there can gain privileges through a setuid program or file
capabilities.

A kernel is started (for the pool) before it belongs to a sandbox; no user code runs in it
until a sandbox adopts it. Then (see sandbox_mounts.py and confine.py) the server shapes
its namespaces into the sandbox's machine: loopback up and no other network, every mount
read-only, /root and /home hidden under empty tmpfs with the interpreter bound back, the
sandbox's directory on /home/user, its scratch directories over /tmp, /var/tmp and
/dev/shm; then the kernel gives up root for the sandbox's own unprivileged uid, and the
server checks that every process in there runs as that uid. User code never runs as root:
it cannot undo a mount, write outside its directories, read another process's environment
or reach another sandbox or the server by any path.

What it does not give: the Linux kernel and the rest of the filesystem (read-only) are the
host's; there is no network at all, only the kernel's own loopback; the python and
javascript kernels of one sandbox live in two PID and network namespaces, so neither sees
the other's processes or loopback servers. Where it cannot be had (not root, no
util-linux, a Linux kernel older than 5.12, no /home), the probe says why, and kernels run
without it (see state.py).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from turnout_e2b_server.sandbox_mounts import (
    SANDBOX_GID_BASE,
    SANDBOX_UID_BASE,
    IsolationError,
    SandboxMounts,
)

__all__ = [
    "HIDDEN_DIRECTORIES",
    "INIT_NAME",
    "SCRATCH_DIRECTORIES",
    "Isolation",
    "IsolationError",
    "find",
    "unavailable_reason",
]

UNSHARE_FLAGS = ("--pid", "--fork", "--mount-proc", "--kill-child", "--net", "--ipc")
SHELL = "/bin/sh"
INIT_NAME = "turnout-kernel-init"
# The namespace's PID 1. `"$@"` is not the last command, so the shell forks it rather than
# exec'ing it, and stays to wait (reaping orphans as it does). JPY_PARENT_PID would make
# ipykernel stop itself as soon as it sees that its parent is PID 1; the Python kernel is
# started without it, this only makes sure.
INIT_SCRIPT = 'unset JPY_PARENT_PID\n"$@"\nexit "$?"\n'
# Where programs customarily write scratch files; each sandbox gets private copies.
SCRATCH_DIRECTORIES = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
# Hidden under an empty tmpfs in every kernel: root's home and the users' homes (where
# /home/user is mounted). What a kernel needs from under them is bound back.
HIDDEN_DIRECTORIES = (Path("/root"), Path("/home"))
SANDBOX_HOME = Path("/home/user")
# Where the tools are looked for first (then on PATH); they run with this PATH only.
TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROBE_TIMEOUT_S = 20.0
PROBE_MARKER = "turnout-isolation-probe"
MINIMUM_LINUX = (5, 12)
CAP_SYS_ADMIN = 21


@dataclass(frozen=True)
class Isolation:
    """How to start kernels in namespaces of their own, on this host.

    `covered`: the scratch directories each sandbox gets private copies of. `hidden`: the
    directories hidden in every kernel. `anchors`: host paths every kernel must still
    reach (the interpreter, the server's package, Node) that lie under one of those; they
    are bound back at their own path, read-only.
    """

    unshare: str
    setpriv: str
    covered: tuple[Path, ...]
    hidden: tuple[Path, ...]
    anchors: tuple[Path, ...]

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` wrapped so that it runs in namespaces of its own (see the docstring)."""
        guard = [self.setpriv, "--pdeathsig", "KILL", "--no-new-privs", "--"]
        init = [SHELL, "-c", INIT_SCRIPT, INIT_NAME]
        return [*guard, self.unshare, *UNSHARE_FLAGS, "--", *init, *argv]

    def sandbox(self, directory: Path, home: Path, uid: int, gid: int) -> SandboxMounts:
        """Create a sandbox's scratch directories in `directory` (which must not exist).

        One directory per covered path, mode 1777 like /tmp; the mounts (scratch copies,
        and `home` on /home/user) are made in each of its kernels by `SandboxMounts.enter`.
        """
        directory.mkdir(mode=0o700)
        directory = Path(os.path.realpath(directory))
        mounts: list[tuple[Path, Path]] = [(SANDBOX_HOME, Path(os.path.realpath(home)))]
        for target in self.covered:
            source = directory / "-".join(target.parts[1:])
            source.mkdir()
            os.chmod(source, 0o1777)
            mounts.append((target, source))
        covers = tuple(
            (str(path), [str(SANDBOX_HOME)] if SANDBOX_HOME.is_relative_to(path) else [])
            for path in self.hidden
        )
        return SandboxMounts(
            directory=directory,
            covers=covers,
            mounts=tuple(mounts),
            keep=self.anchors,
            uid=uid,
            gid=gid,
        )


def find(probe_parent: Path) -> tuple[Isolation | None, str]:
    """Isolation if this host can run kernels in namespaces; otherwise None and why not.

    Probes once, end to end, in a directory created in `probe_parent` (the server's root,
    where sandboxes will live): starts a wrapped shell, attaches a sandbox's directories to
    its namespaces and has the shell check, as the sandbox's unprivileged user, that it
    sees them and that nothing else is writable, as a kernel would.
    """
    reason = unavailable_reason()
    if reason is not None:
        return None, reason
    tools = _tools()
    covered = tuple(_real_directories(SCRATCH_DIRECTORIES))
    hidden = tuple(_real_directories(HIDDEN_DIRECTORIES))
    isolation = Isolation(
        unshare=str(tools["unshare"]),
        setpriv=str(tools["setpriv"]),
        covered=covered,
        hidden=hidden,
        anchors=tuple(_static_anchors((*covered, *hidden))),
    )
    problem = _probe(isolation, probe_parent)
    return (isolation, "") if problem is None else (None, problem)


def unavailable_reason() -> str | None:
    """Why kernels cannot be confined on this host, judged without starting anything; None
    when the start-up probe can succeed.

    For whoever must say whether sandboxes will be confined before a server runs (the e2b
    backend's capabilities for its embedded server): it starts that server with
    `--require-isolation`, so that a probe failing anyway stops the server instead of
    leaving its kernels unconfined behind a declaration that says otherwise.
    """
    if os.geteuid() != 0:
        return "the server does not run as root (it needs root to make namespaces)"
    if not _holds_sys_admin():
        return "the server's root lacks CAP_SYS_ADMIN (a container's root, say)"
    missing = [name for name, path in _tools().items() if path is None]
    if missing:
        return f"{', '.join(missing)} (util-linux) not found"
    if not os.access(SHELL, os.X_OK):
        return f"{SHELL} is missing"
    if not SANDBOX_HOME.parent.is_dir():
        return f"there is no {SANDBOX_HOME.parent} to mount {SANDBOX_HOME} on"
    release = _linux_release()
    if release < MINIMUM_LINUX:
        return f"Linux {os.uname().release} is older than 5.12 (no mount_setattr)"
    return None


def _holds_sys_admin() -> bool:
    """Whether this process holds CAP_SYS_ADMIN (needed for namespaces and mounts)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) & (1 << CAP_SYS_ADMIN))
    return False


def _tools() -> dict[str, str | None]:
    search = os.pathsep.join([TOOL_PATH, os.environ.get("PATH", "")])
    return {name: shutil.which(name, path=search) for name in ("unshare", "setpriv")}


def _linux_release() -> tuple[int, int]:
    """(major, minor) of the running Linux kernel; (0, 0) if it cannot be read."""
    parts = os.uname().release.split(".")
    try:
        return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (IndexError, ValueError):
        return 0, 0


# The probe's program: a process of the new PID namespace (not its init) says it runs,
# waits until the sandbox is attached, then, as the sandbox's user, checks what a kernel
# would see.
_PROBE_PROGRAM = """\
[ "$$" -gt 1 ] && echo ready && read -r _ || exit 10
exec "$1" --reuid "$2" --regid "$3" --clear-groups -- /bin/sh -c '
  [ -e "$1/{marker}" ] || exit 11
  [ -e /home/user/{marker} ] || exit 12
  touch /home/user/written || exit 13
  touch "$1/written" || exit 14
  ! touch /etc/{marker} 2>/dev/null || exit 15
  ! umount "$1" 2>/dev/null || exit 16
' probe "$4"
"""


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
        os.chown(home, SANDBOX_UID_BASE, SANDBOX_GID_BASE)
        mounts = isolation.sandbox(workdir / "scratch", home, SANDBOX_UID_BASE, SANDBOX_GID_BASE)
        covered, source = mounts.mounts[-1]
        (source / PROBE_MARKER).touch()
        program = _PROBE_PROGRAM.replace("{marker}", PROBE_MARKER)
        arguments = [isolation.setpriv, str(SANDBOX_UID_BASE), str(SANDBOX_GID_BASE), str(covered)]
        process = subprocess.Popen(
            isolation.command([SHELL, "-c", program, "probe", *arguments]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd="/",
            env={"PATH": TOOL_PATH},
            start_new_session=True,
        )
        assert process.stdout is not None
        if not _ready(process.stdout, PROBE_TIMEOUT_S):
            process.kill()
            _, stderr = process.communicate(timeout=PROBE_TIMEOUT_S)
            said = stderr.decode("utf-8", "replace").strip()
            return f"{isolation.unshare} failed (exit status {process.returncode}): {said}"
        mounts.enter_blocking(process.pid)
        _, stderr = process.communicate(b"\n", timeout=PROBE_TIMEOUT_S)
        if process.returncode != 0:
            said = stderr.decode("utf-8", "replace").strip()
            status = process.returncode
            return f"the probe did not see a sealed sandbox (exit status {status}): {said}"
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
    # Not the working directory (`python -m` puts it on sys.path), nor a covered directory
    # as a whole: either would undo the cover.
    here = os.path.realpath(os.getcwd())
    wanted = (Path(c) for c in candidates if c and os.path.isabs(c))
    real = [p for p in _real_directories(wanted) if str(p) != here and p not in covered]
    inside = [path for path in real if any(path.is_relative_to(t) for t in covered)]
    return _outermost(inside)


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """`paths` without those inside another one (binding the outer one brings them along)."""
    unique = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return kept
