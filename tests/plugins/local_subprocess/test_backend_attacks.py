"""Hostile code against local-subprocess: every attack that worked while code ran as root.

Each test runs the attack as user code and checks that it fails by permission (not by the
attacker's luck), that the execution still ends as what the program did, and that nothing
of it is left. The attacks only ever target the test's own executions and files with the
test's marker, so they stay harmless when run against a backend that does not stop them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from turnout_local_subprocess import LocalSubprocessBackend
from turnout_local_subprocess.limits import RELEASE_TIMEOUT_S

from turnout.contract.outcome import decode_result
from turnout.errors import CodeExecutionError
from turnout.models import ExecutionResult, Language

from .support import (
    PYTHON,
    BackendFactory,
    marked,
    needs_cgroups,
    needs_namespaces,
    new_marker,
    run,
)

pytestmark = needs_namespaces

# umount2(path, MNT_DETACH): 0 when it worked, else the errno.
UMOUNT = """
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def umount(path):
    return 0 if libc.umount2(path.encode(), 2) == 0 else ctypes.get_errno()
"""

# Every /proc/<pid>/environ the program can open, after trying to unmount its private /proc.
UNMOUNT_AND_HUNT = (
    UMOUNT
    + """
import json
unmounted = umount('/proc')
found = []
for pid in os.listdir('/proc'):
    try:
        with open(f'/proc/{pid}/environ', 'rb') as handle:
            data = handle.read()
    except OSError:
        continue
    found += [f'{pid}: {secret}' for secret in SECRETS if secret.encode() in data]
print(json.dumps({'umount': unmounted, 'found': found}))
"""
)

# The program's own cgroups, and an attempt to raise each limit (memory to 8 GiB, pids to
# 4096) and to leave the jail for the hierarchy's root.
RAISE_OWN_LIMITS = """
import json
refused, written = [], []
for line in open('/proc/self/cgroup').read().splitlines():
    _, controllers, path = line.split(':', 2)
    for controller in controllers.split(','):
        directory = f'/sys/fs/cgroup/{controller}{path}'
        limits = {'memory': ('memory.limit_in_bytes', 8 << 30), 'pids': ('pids.max', 4096)}
        if controller in limits:
            name, value = limits[controller]
            root = f'/sys/fs/cgroup/{controller}/cgroup.procs'
            for target, text in ((f'{directory}/{name}', value), (root, 0)):
                try:
                    with open(target, 'w') as handle:
                        handle.write(str(text))
                    written.append(target)
                except OSError as error:
                    refused.append(error.errno)
print(json.dumps({'written': written, 'refused': refused}))
"""

# Opens, for writing, every descriptor of every other process it can see (the namespace's
# init and its report channel among them) and writes what would fake a report.
FORGE_REPORTS = """
import json, os
opened = []
for pid in os.listdir('/proc'):
    if not pid.isdigit() or int(pid) == os.getpid():
        continue
    try:
        fds = os.listdir(f'/proc/{pid}/fd')
    except OSError:
        continue
    for fd in fds:
        try:
            handle = os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        opened.append(f'{pid}/{fd}')
        try:
            os.write(handle, b'junk\\0exit 75\\0x')
        except OSError:
            pass
        os.close(handle)
print(json.dumps(opened))
"""


def decoded(result: ExecutionResult, language: Language = "python") -> object:
    """What the engine makes of a result (the output, or the error it raises)."""
    try:
        return decode_result(
            result, language=language, timeout_ms=10_000, max_result_bytes=1 << 20, backend="t"
        ).value
    except CodeExecutionError as error:
        return error


async def wait_for_marked(marker: str, timeout_s: float = 20.0) -> psutil.Process:
    """The host process whose command line holds `marker`, once it exists."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = marked(marker)
        if found:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no process with {marker} appeared")


@pytest.fixture
def holder(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, ...]]:
    """A host process started with planted secrets in its environment, as the worker's
    ancestors (and a worker started with them) would be; yields the secrets."""
    secrets = ("e2b_secret_planted_by_test", f"canary-{uuid.uuid4().hex}")
    monkeypatch.setenv("E2B_API_KEY", secrets[0])
    monkeypatch.setenv("TURNOUT_TEST_CANARY", secrets[1])
    process = psutil.Popen(
        ["sleep", "60"], env={"E2B_API_KEY": secrets[0], "TURNOUT_TEST_CANARY": secrets[1]}
    )
    yield secrets
    process.kill()
    process.wait()


class TestIdentity:
    """User code runs as the dedicated unprivileged identity, never as the worker's root."""

    @pytest.mark.parametrize("prestart", [0, 2], ids=["cold", "pre-started"])
    async def test_python_is_unprivileged(self, make_backend: BackendFactory, prestart: int):
        """uid and gid are the sandbox's, no supplementary groups, no capabilities (effective,
        permitted or bounding), and no_new_privs is set; for pre-started interpreters too."""
        backend = make_backend(prestart_python=prestart)
        program = (
            "import json, os\n"
            "lines = open('/proc/self/status').read().splitlines()\n"
            "status = dict(line.split(':\\t', 1) for line in lines)\n"
            "ids = [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()]\n"
            "keys = ('CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs')\n"
            "print(json.dumps([*ids, [status[k].strip() for k in keys]]))"
        )
        if prestart:
            await run(backend, "python", "pass")
            await _spare_ready(backend)
        seen = json.loads((await run(backend, "python", program)).stdout)
        uid, gid = backend.options.sandbox_uid, backend.options.sandbox_gid
        assert seen == [uid, uid, gid, gid, [], ["0" * 16, "0" * 16, "0" * 16, "1"]]
        assert backend.capabilities.code_runs_as_worker_user is False

    async def test_node_is_unprivileged(self, backend: LocalSubprocessBackend):
        """Node runs as the sandbox's uid and gid too."""
        program = "console.log(JSON.stringify([process.getuid(), process.getgid()]))"
        result = await run(backend, "javascript", program)
        uid, gid = backend.options.sandbox_uid, backend.options.sandbox_gid
        assert json.loads(result.stdout) == [uid, gid]

    async def test_working_directory_belongs_to_the_code(self, backend: LocalSubprocessBackend):
        """The working directory and the request files in it are the code's to change."""
        program = (
            "import os\n"
            "os.remove('given.txt'); os.mkdir('made'); open('made/f', 'w').write('x')\n"
            "print(os.stat('.').st_uid == os.getuid())"
        )
        result = await run(backend, "python", program, files={"given.txt": b"x"})
        assert (result.exit_code, result.stdout) == (0, "True\n")

    @pytest.mark.skipif(not PYTHON.startswith("/root/"), reason="the interpreter is not in /root")
    async def test_only_the_interpreter_is_exposed_from_a_hidden_directory(
        self, backend: LocalSubprocessBackend
    ):
        """/root (mode 700) is an empty directory but for the path to the interpreter's
        prefix: the worker's own files there are out of sight."""
        program = "import os\nprint(os.listdir('/root'))"
        result = await run(backend, "python", program)
        first = Path(PYTHON).relative_to("/root").parts[0]
        assert result.stdout == f"{[first]!r}\n"

    @pytest.mark.skipif(not PYTHON.startswith("/root/"), reason="the interpreter is not in /root")
    async def test_the_exposure_kit_is_made_once_and_removed_on_close(
        self, make_backend: BackendFactory
    ):
        """The directories that expose the interpreter are made at its first use, shared by
        later executions, and removed by aclose()."""
        backend = make_backend(prestart_python=0)
        await run(backend, "python", "pass")
        kit = backend._interpreters.kits["python"]
        await run(backend, "python", "pass")
        assert backend._interpreters.kits["python"] is kit
        assert _existing([str(kit.root)]) == [str(kit.root)]
        await backend.aclose()
        assert _existing([str(kit.root)]) == []


class TestAttacks:
    """Each attack that root could make fails by permission."""

    async def test_unmounting_proc_reveals_no_secret(
        self, backend: LocalSubprocessBackend, holder: tuple[str, ...]
    ):
        """Unmounting the private /proc is refused, and no /proc/<pid>/environ the code can
        open holds a planted secret."""
        program = f"SECRETS = {holder!r}\n" + UNMOUNT_AND_HUNT
        seen = json.loads((await run(backend, "python", program)).stdout)
        assert seen == {"umount": errno.EPERM, "found": []}

    @needs_cgroups
    async def test_own_cgroup_limits_cannot_be_raised(self, backend: LocalSubprocessBackend):
        """Writing 8 GiB into its memory limit, 4096 into its pids.max, or itself into the
        hierarchy's root is refused."""
        seen = json.loads((await run(backend, "python", RAISE_OWN_LIMITS)).stdout)
        assert seen["written"] == []
        assert set(seen["refused"]) == {errno.EACCES}
        assert len(seen["refused"]) == 4

    async def test_report_channel_cannot_be_forged(self, backend: LocalSubprocessBackend):
        """No descriptor of another process is writable, so the init's report cannot be
        faked: the execution ends as the program did, not as a retryable infrastructure
        error."""
        result = await run(backend, "python", FORGE_REPORTS)
        assert json.loads(result.stdout) == []
        assert (result.termination, result.exit_code) == ("exited", 0)

    async def test_a_start_failure_cannot_be_forged(self, backend: LocalSubprocessBackend):
        """Printing what the init prints when it cannot start the interpreter, and exiting
        with its status, is the program's own runtime error."""
        program = (
            "import sys\n"
            "sys.stderr.write('turnout-init: 16: exec: /x/python: not found\\n')\n"
            "sys.exit(127)"
        )
        result = await run(backend, "python", program)
        assert (result.termination, result.exit_code) == ("exited", 127)
        assert isinstance(decoded(result), CodeExecutionError)

    async def test_writes_outside_reach_no_other_execution(self, backend: LocalSubprocessBackend):
        """Files written to the host's directories are refused; the world-writable ones are
        private copies; the next execution finds none of them, nor does the host."""
        marker = new_marker()
        system = ["/root", "/etc", "/usr/local", "/var/lib", "/opt", "/"]
        shared = ["/run/lock", "/var/lock"]
        places = [f"{directory.rstrip('/')}/{marker}" for directory in system + shared]
        write = (
            "import json\nwritten = []\n"
            f"for path in {places!r}:\n"
            "    try:\n        open(path, 'w').write('left behind')\n        written.append(path)\n"
            "    except OSError:\n        pass\n"
            "print(json.dumps(written))"
        )
        check = f"import json, os\nprint(json.dumps([p for p in {places!r} if os.path.exists(p)]))"
        try:
            written = json.loads((await run(backend, "python", write)).stdout)
            seen = json.loads((await run(backend, "python", check)).stdout)
            on_host = _existing(places)
        finally:
            for path in places:
                with contextlib.suppress(OSError):
                    os.remove(path)
        assert [path for path in written if not path.startswith(tuple(shared))] == []
        assert (seen, on_host) == ([], [])

    async def test_sysv_ipc_does_not_reach_the_next_execution(
        self, backend: LocalSubprocessBackend
    ):
        """A System V shared memory segment left behind is gone for the next execution (and
        from the host): each execution has its own IPC namespace."""
        key = int(uuid.uuid4().int % 0x7FFF0000) + 1
        create = (
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            f"print(libc.shmget({key}, 4096, 0o1000 | 0o666) >= 0)"
        )
        look = (
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            f"print(libc.shmget({key}, 0, 0) >= 0)"
        )
        try:
            created = await run(backend, "python", create)
            seen = await run(backend, "python", look)
            on_host = _shm_exists(key)
        finally:
            _shm_remove(key)
        assert (created.stdout, seen.stdout, on_host) == ("True\n", "False\n", False)


@needs_cgroups
class TestConcurrentVictim:
    """An attacker and a concurrent victim: the victim's result is untouched."""

    VICTIM = """
import json, os, subprocess, sys, time
secret = 'victim-secret-{marker}'
open('/tmp/{marker}.secret', 'w').write(secret)
marker = subprocess.Popen(['{marker}', '60'], executable='sleep')
deadline = time.time() + 30
while not os.path.exists('go') and time.time() < deadline:
    time.sleep(0.02)
forked = sum(subprocess.run(['true']).returncode == 0 for _ in range(20))
marker.kill()
print(json.dumps([forked, open('/tmp/{marker}.secret').read() == secret]))
"""

    ATTACK = (
        UMOUNT
        + """
import json
done = []
try:
    with open({pids_max!r}, 'w') as handle:
        handle.write('1')
    done.append('pids.max')
except OSError:
    pass
for mount in ('/proc', '/tmp'):
    if umount(mount) == 0:
        done.append('umount ' + mount)
for path in ({secret!r}, {report!r}):
    try:
        with open(path, 'rb' if path == {secret!r} else 'wb') as handle:
            if path == {secret!r}:
                done.append('read ' + handle.read().decode())
            else:
                handle.write(b'junk')
                done.append('wrote the report channel')
    except OSError:
        pass
print(json.dumps(done))
"""
    )

    async def test_attacker_cannot_touch_a_concurrent_victim(self, make_backend: BackendFactory):
        """While the victim runs, the attacker tries to set the victim's pids.max to 1, to
        unmount its own /proc and /tmp and read the victim's scratch file, and to write to
        the victim's report channel: all fail, the victim forks and reads its file as
        usual, and nothing of either is left running."""
        backend = make_backend(prestart_python=0)
        # Other tests' backends in this worker may keep pre-started interpreters as the
        # same uid; only what this test starts counts.
        before = {process.pid for process in _descendants_running_as(backend.options.sandbox_uid)}
        marker = new_marker()
        victim = asyncio.create_task(
            run(backend, "python", self.VICTIM.format(marker=marker), timeout_ms=60_000)
        )
        try:
            sleeper = await wait_for_marked(marker)
            program = sleeper.parent()
            init = program.parent()
            workdir = Path(program.cwd())
            pids = _cgroup(program.pid, "pids")
            attack = self.ATTACK.format(
                pids_max=f"/sys/fs/cgroup/pids{pids}/pids.max",
                secret=str(workdir.parent / "scratch" / "tmp" / f"{marker}.secret"),
                report=f"/proc/{init.pid}/fd/4",
            )
            attacked = await run(backend, "python", attack)
            (workdir / "go").write_text("")
            result = await victim
        finally:
            if not victim.done():
                victim.cancel()
                with contextlib.suppress(BaseException):
                    await victim
        assert (attacked.exit_code, json.loads(attacked.stdout)) == (0, [])
        assert "victim-secret" not in attacked.stdout + attacked.stderr
        assert (result.termination, result.exit_code, result.stderr) == ("exited", 0, "")
        assert json.loads(result.stdout) == [20, True]
        assert marked(marker) == []
        assert await _descendants_left(backend.options.sandbox_uid, before) == []


async def _spare_ready(backend: LocalSubprocessBackend, timeout_s: float = 20.0) -> None:
    """Wait until a pre-started interpreter is waiting for a program."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(spare.alive for spare in backend._spares):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no pre-started interpreter became ready")


async def _descendants_left(uid: int, before: set[int]) -> list[psutil.Process]:
    """This test process's descendants running as `uid`, not among the pids `before`, once
    the backend's cleanup is over.

    An execution returns after a short cleanup budget and its release goes on killing in
    the background for up to RELEASE_TIMEOUT_S; on a loaded machine the killed processes
    can still be there when the result arrives, so this waits out that promise (plus
    scheduling slack) before saying what is left.
    """
    deadline = time.monotonic() + RELEASE_TIMEOUT_S + 3.0

    def new() -> list[psutil.Process]:
        return [process for process in _descendants_running_as(uid) if process.pid not in before]

    left = new()
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        left = new()
    return left


def _descendants_running_as(uid: int) -> list[psutil.Process]:
    """This test process's live descendants that run as `uid`."""
    found = []
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.uids().real == uid and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
    return found


def _existing(paths: list[str]) -> list[str]:
    """Which of `paths` exist on the host (symlinks included)."""
    return [path for path in paths if os.path.lexists(path)]


def _cgroup(pid: int, controller: str) -> str:
    """The path of `pid`'s cgroup in `controller`'s (v1) hierarchy, as /proc shows it."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    raise AssertionError(f"process {pid} is in no {controller} cgroup")


def _shm_exists(key: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.shmget(key, 0, 0) >= 0)


def _shm_remove(key: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    ipc_rmid = 0
    segment = libc.shmget(key, 0, 0)
    if segment >= 0:
        libc.shmctl(segment, ipc_rmid, None)
