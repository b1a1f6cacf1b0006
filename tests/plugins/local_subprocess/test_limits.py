from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from pathlib import Path

from turnout_local_subprocess.limits import Confinement, Released, node_heap_mb

from turnout.models import Language


def confinement(language: Language, workdir: Path) -> Confinement:
    return Confinement.create(
        language,
        memory_mb=256,
        pids_max=64,
        workdir=workdir,
        cgroups=None,
    )


def limits_of(pid: int) -> dict[str, list[str]]:
    """/proc/<pid>/limits as {name: [soft, hard]}."""
    rows = Path(f"/proc/{pid}/limits").read_text().splitlines()[1:]
    found = {}
    for row in rows:
        name, values = row[:26].strip(), row[26:].split()
        found[name] = values[:2]
    return found


def entered(confinement: Confinement, argv: list[str]) -> subprocess.Popen[bytes]:
    """`argv` started through the confinement's prelude, as the backend starts programs,
    returned once the prelude has exec'd it."""
    child = subprocess.Popen([*confinement.prelude(), *argv], start_new_session=True)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/cmdline").read_bytes().split(b"\0")[0] != argv[0].encode():
        assert time.monotonic() < deadline, "the prelude did not exec the program"
        time.sleep(0.01)
    return child


def limits_entered(confinement: Confinement) -> dict[str, list[str]]:
    """The rlimits of a program started through the confinement's prelude."""
    child = entered(confinement, ["sleep", "60"])
    try:
        return limits_of(child.pid)
    finally:
        child.kill()
        child.wait()


class TestPrelude:
    """The shell every program is started through sets its rlimits; no Python runs between
    the fork and the exec."""

    def test_python_gets_an_address_space_limit(self, tmp_path: Path):
        """Python is bounded by RLIMIT_AS, so it raises a catchable MemoryError; no core."""
        limits = limits_entered(confinement("python", tmp_path))
        assert limits["Max address space"] == [str(256 << 20)] * 2
        assert limits["Max core file size"] == ["0", "0"]

    def test_node_never_gets_an_address_space_limit(self, tmp_path: Path):
        """Node gets RLIMIT_DATA, never RLIMIT_AS (which kills it at start-up)."""
        limits = limits_entered(confinement("javascript", tmp_path))
        assert limits["Max address space"] == ["unlimited", "unlimited"]
        assert limits["Max data size"] == [str(256 << 20)] * 2

    def test_shell_limit_matches(self, tmp_path: Path):
        """The init's `ulimit` sets the same limit: -v (RLIMIT_AS) for Python, -d for Node."""
        assert confinement("python", tmp_path).shell_limit == ("-v", 256 * 1024)
        assert confinement("javascript", tmp_path).shell_limit == ("-d", 256 * 1024)

    def test_isolated_prelude_leaves_memory_to_the_init(self, tmp_path: Path):
        """With namespaces the child (unshare) gets RLIMIT_CORE only, not the memory limit."""
        isolated = Confinement.create(
            "python", memory_mb=256, pids_max=64, workdir=tmp_path, cgroups=None, isolated=True
        )
        limits = limits_entered(isolated)
        assert limits["Max address space"] == ["unlimited", "unlimited"]
        assert limits["Max core file size"] == ["0", "0"]

    def test_the_program_replaces_the_shell(self, tmp_path: Path):
        """The prelude execs the program: the child's pid is the program's."""
        child = entered(confinement("python", tmp_path), ["sleep", "60"])
        try:
            command = Path(f"/proc/{child.pid}/cmdline").read_bytes().split(b"\0")
        finally:
            child.kill()
            child.wait()
        assert command[:2] == [b"sleep", b"60"]

    def test_node_heap_is_below_the_memory_limit(self):
        """V8's heap cap sits below the memory limit so V8 fails before the kernel kills."""
        assert node_heap_mb(512) == 384
        assert node_heap_mb(16) == 16


class TestFallbackKill:
    """Without a cgroup, killing finds the session and anything working in the directory."""

    async def test_process_in_the_working_directory_is_killed(self, tmp_path: Path):
        """A process in its own session but working inside the directory is killed."""
        held = confinement("python", tmp_path)
        straggler = await asyncio.create_subprocess_exec(
            "sleep", "60", cwd=tmp_path, start_new_session=True
        )
        try:
            assert held.kill_all() is False
            assert await straggler.wait() == -9
            assert await held.release() == Released()
        finally:
            with contextlib.suppress(ProcessLookupError):
                straggler.kill()

    def test_session_member_is_killed(self, tmp_path: Path):
        """A process in the program's session is killed even when it works elsewhere."""
        leader = subprocess.Popen(["sleep", "60"], cwd="/", start_new_session=True)
        held = confinement("python", tmp_path)
        held.attach(leader.pid)
        try:
            held.kill_all()
            assert leader.wait(timeout=5) == -9
        finally:
            leader.kill()
            leader.wait()

    def test_nothing_to_kill(self, tmp_path: Path):
        """With nothing started, kill_all reports that nothing was left."""
        assert confinement("javascript", tmp_path).kill_all() is True
