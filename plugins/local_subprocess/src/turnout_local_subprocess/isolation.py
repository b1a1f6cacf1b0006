"""Each program in its own PID, mount and IPC namespace, through util-linux `unshare`.

The command line of one execution:

    unshare --pid --fork --mount-proc --ipc --kill-child -- /bin/sh -c INIT turnout-init \\
        MOUNT FSTAB WORKDIR ULIMIT-FLAG KIB [PATH SOURCE]... -- \\
        [setpriv --reuid=UID --regid=GID ... --] INTERPRETER ARGS...

`unshare` forks; its child is PID 1 of a new PID namespace and lives in a new mount
namespace (propagation private, so nothing mounted there shows on the host) with a /proc
of its own, and in a new IPC namespace (System V IPC and POSIX message queues die with
it). That child is a small shell, the namespace's init (`INIT_SCRIPT`). It mounts the
execution's private directories (`mounts`: scratch copies over /tmp, /var/tmp, /dev/shm
and /run/lock, the interpreter's prefix exposed from a hidden directory), checks that
they took, sets the memory rlimit, reports "ready", then runs the program as its child,
waits, and reports the program's exit status. The init stays root; with an `identity`
the program runs as that unprivileged uid (`setpriv`, see `identity`).

The wrapper's channel: `unshare`'s standard error is the report pipe, not the program's
stderr, and so is the init's until it reports "ready" (`process.run_program` with
`wrapped=True`: the child's stdin carries the program's stderr pipe instead, which the
init hands to the program alone). Whatever the wrapper says (its reports, a failed mount,
`unshare`'s own complaints) therefore never reaches the program's stderr. That matters
at every kill: util-linux 2.38 `unshare`, seeing its child die by SIGKILL, tries to
re-raise the signal on itself, fails to unblock SIGKILL and prints "unshare: sigprocmask
unblock failed: Invalid argument"; when the worker is preempted between killing the init
and killing `unshare` (a loaded machine), that line would otherwise end up in the
program's stderr. The reports are framed by NUL bytes (`READY`, `EXIT`), which no message of the
tools contains, so the wrapper's other output can share the pipe.

Why the program is not PID 1 itself: the init of a PID namespace ignores every signal
for which it has no handler when it comes from inside the namespace, itself included, so
`os.kill(os.getpid(), 9)` would do nothing. As the init's child the program behaves as
anywhere else, and the shell reports its signal death as 128 + n. Nothing inside the
namespace can kill the init (short of escaping the namespace as root); from outside only
SIGKILL can. So an execution whose init reported "ready" but no exit status was ended
from outside (or by an out-of-memory kill of the init itself). `unshare`'s own exit
status cannot tell: util-linux 2.38 turns its child's death by SIGKILL into exit status 1.
Nor can the program write the init's reports: `unshare` and the init run as root and
the program, with an identity, does not, so their descriptors are out of its reach.

What the namespace gives: user code sees only its own processes in /proc (not the
worker, its ancestors or other executions, so not their environments); when the init
dies the kernel kills everything in the namespace, `setsid()` and double-fork escapees
included; `--kill-child` kills the init if `unshare` dies. Files the program writes in
the scratch directories land in the execution's directory and go with it.

What it does not give: the network and the rest of the filesystem are the host's. And
without an identity (`drop_privileges = false`, or a host where `setpriv` is missing)
the program runs as the worker's user, root on this project's machines, with that
user's capabilities, and can undo every mount (for example unmount /proc to see the
host's again).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from turnout_local_subprocess import mounts
from turnout_local_subprocess.identity import Identity, find_identity
from turnout_local_subprocess.mounts import ExposureKit
from turnout_local_subprocess.workdir import Workspace

__all__ = [
    "INIT_NAME",
    "SCRATCH_DIRECTORIES",
    "SHELL",
    "InitReport",
    "Namespaces",
    "drop_privileges",
    "find",
    "mark_worker_undumpable",
    "read_report",
]

UNSHARE_FLAGS = ("--pid", "--fork", "--mount-proc", "--ipc", "--kill-child")
SHELL = "/bin/sh"
INIT_NAME = "turnout-init"
# Where programs customarily write scratch files, and every directory of a usual host that
# anyone may write to; each execution gets private copies (see `mounts`). /tmp goes last,
# though with the anchors the order does not matter.
SCRATCH_DIRECTORIES = (Path("/var/tmp"), Path("/dev/shm"), Path("/run/lock"), Path("/tmp"))
PROBE_TIMEOUT_S = 5.0
PROBE_LIMIT_KIB = 1 << 20

# $0 is INIT_NAME, so whatever this shell itself reports starts with "turnout-init: ".
# Its stdin is the program's stderr pipe: it moves to fd 3 at once, and stdin becomes
# /dev/null. Its stderr is the wrapper's channel (the report pipe): errors before "ready"
# go there, and the missing ready report marks the execution as not started. Then fd 4
# keeps the channel and the shell's own stderr becomes /dev/null (so that it does not add
# "Killed" when the program dies by a signal); the subshell that execs the interpreter
# gets the program's stderr (fd 3) as its stderr and closes 3 and 4, so the program holds
# neither. `cd` exports PWD and OLDPWD, which are not on the allow-list, so they are unset
# again.
INIT_SCRIPT = """\
set -e
exec 3>&0 0</dev/null
mount=$1 fstab=$2 work=$3 limit=$4 kib=$5
shift 5
[ -z "$fstab" ] || "$mount" -n -a -T "$fstab"
while [ "$1" != -- ]; do
  [ "$1" -ef "$2" ] || { echo "$0: $1 is not the private copy $2" >&2; exit 1; }
  shift 2
done
shift
cd -- "$work"
unset PWD OLDPWD
[ -z "$limit" ] || ulimit "$limit" "$kib"
exec 4>&2 2>/dev/null
printf '\\000ready\\000' >&4
set +e
(exec 2>&3 3>&- 4>&-; exec "$@")
status=$?
printf '\\000exit %d\\000' "$status" >&4
exit "$status"
"""
READY = b"\0ready\0"
EXIT = re.compile(rb"\0exit (\d+)\0")


@dataclass(frozen=True)
class InitReport:
    """What the wrapper wrote on its channel.

    `ready`: the init set everything up and went on to start the program. `status`: the
    program's exit status as the shell saw it (128 + n for a death by signal n); None if
    the init never got to report it, because it was killed first. `said`: everything else
    on the channel, the wrapper's own messages (why it could not set up, for example).
    """

    ready: bool
    status: int | None
    said: str = ""


def read_report(data: bytes) -> InitReport:
    """Parse the channel's bytes: READY once set up, then EXIT once the program ended."""
    ready = READY in data
    ended = EXIT.search(data) if ready else None
    rest = EXIT.sub(b"", data.replace(READY, b"")).replace(b"\0", b" ")
    said = rest.decode("utf-8", "replace").strip()
    return InitReport(ready=ready, status=int(ended[1]) if ended else None, said=said)


@dataclass(frozen=True)
class Namespaces:
    """How to wrap a command so that it runs in its own PID, mount and IPC namespace.

    With `identity`, the program runs as that unprivileged identity (see `identity`).
    """

    unshare: str
    mount: str
    scratch: tuple[Path, ...]
    identity: Identity | None = None

    def command(
        self,
        workspace: Workspace,
        argv: Sequence[str],
        *,
        limit: tuple[str, int] | None,
        kit: ExposureKit | None = None,
    ) -> list[str]:
        """The wrapped command; prepares the workspace's private mounts (see `mounts`).

        `limit` is the memory rlimit as the shell's `ulimit` takes it (flag, KiB); the
        init sets it just before starting the program, so `unshare` and `mount` run
        without it. `kit` exposes what the identity needs to reach the interpreter.
        """
        fstab, checks = mounts.plan(workspace, self.scratch, kit)
        flag, kib = limit if limit is not None else ("", 0)
        program = list(argv) if self.identity is None else self.identity.wrap(list(argv))
        return [
            self.unshare,
            *UNSHARE_FLAGS,
            "--",
            SHELL,
            "-c",
            INIT_SCRIPT,
            INIT_NAME,
            self.mount,
            str(fstab) if fstab is not None else "",
            str(workspace.work),
            flag,
            str(kib),
            *checks,
            "--",
            *program,
        ]


def find(unshare_name: str = "unshare") -> tuple[Namespaces | None, str]:
    """Namespaces if this host can run programs in them; otherwise None and why not.

    Probes once per process and set of tools, by running the whole wrapper with a trivial
    program.
    """
    unshare = shutil.which(unshare_name)
    if unshare is None:
        return None, f"{unshare_name!r} (util-linux) was not found on PATH"
    mount = shutil.which("mount")
    if mount is None:
        return None, "'mount' (util-linux) was not found on PATH"
    if not os.access(SHELL, os.X_OK):
        return None, f"{SHELL} is missing"
    namespaces = Namespaces(unshare, mount, _scratch_directories())
    problem = _probe(namespaces)
    return (namespaces, "") if problem is None else (None, problem)


def drop_privileges(namespaces: Namespaces, uid: int, gid: int) -> tuple[Namespaces | None, str]:
    """`namespaces` running programs as uid:gid, if that works here; else None and why not.

    Probed like `find`: the whole wrapper runs a trivial program as that identity.
    """
    identity, problem = find_identity(uid, gid)
    if identity is None:
        return None, problem
    dropped = replace(namespaces, identity=identity)
    failure = _probe(dropped)
    return (dropped, "") if failure is None else (None, failure)


@functools.cache
def mark_worker_undumpable() -> bool:
    """prctl(PR_SET_DUMPABLE, 0) on this process, once; False if the call failed.

    Processes of the same user without CAP_SYS_PTRACE can then no longer read this
    process's /proc/<pid>/environ or memory or attach a debugger to it, and it writes no
    core dump. Root (CAP_SYS_PTRACE) is not affected. An `exec` resets the flag, so the
    programs this process starts are dumpable as usual.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_dumpable = 4
    return bool(libc.prctl(pr_set_dumpable, 0, 0, 0, 0) == 0)


def _scratch_directories() -> tuple[Path, ...]:
    found: list[Path] = []
    for directory in SCRATCH_DIRECTORIES:
        real = Path(os.path.realpath(directory))
        if real.is_dir() and real not in found:
            found.append(real)
    return tuple(found)


@functools.cache
def _probe(namespaces: Namespaces) -> str | None:
    """Run the wrapper once with a no-op program; None when it worked, else the error."""
    try:
        workspace = Workspace.create(owner=namespaces.identity)
    except OSError as exc:
        return f"could not create a probe directory: {exc}"
    channel, program_stderr = os.pipe(), os.pipe()
    try:
        argv = namespaces.command(workspace, [SHELL, "-c", ":"], limit=("-v", PROBE_LIMIT_KIB))
        completed = subprocess.run(
            argv,
            stdin=program_stderr[1],
            stdout=subprocess.DEVNULL,
            stderr=channel[1],
            cwd=workspace.work,
            env={"PATH": os.environ.get("PATH", os.defpath)},
            timeout=PROBE_TIMEOUT_S,
            start_new_session=True,
            check=False,
        )
        for _, write_end in (channel, program_stderr):
            os.close(write_end)
        report = read_report(_read_nonblocking(channel[0]))
        said = _read_nonblocking(program_stderr[0]).decode("utf-8", "replace").strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{namespaces.unshare} could not be run: {exc}"
    finally:
        for fd in (*channel, *program_stderr):
            with contextlib.suppress(OSError):
                os.close(fd)
        workspace.remove()
    if completed.returncode == 0 and (report.ready, report.status) == (True, 0):
        return None
    said = "; ".join(text for text in (report.said, said) if text) or "it said nothing"
    return f"{namespaces.unshare} failed (exit status {completed.returncode}): {said}"


def _read_nonblocking(read_end: int) -> bytes:
    """What a pipe holds now (its writers are gone), at most 4 KiB."""
    os.set_blocking(read_end, False)
    try:
        return os.read(read_end, 4096)
    except BlockingIOError:
        return b""
