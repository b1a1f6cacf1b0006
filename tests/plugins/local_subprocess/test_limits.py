from __future__ import annotations

import asyncio
import contextlib
import resource
import subprocess
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


class TestRlimits:
    """Which rlimits each language gets."""

    def test_python_gets_address_space_limit(self, tmp_path: Path):
        """Python is bounded by RLIMIT_AS, so it raises a catchable MemoryError."""
        limits = dict(confinement("python", tmp_path).rlimits)
        assert limits[resource.RLIMIT_AS] == 256 << 20
        assert limits[resource.RLIMIT_CORE] == 0

    def test_node_never_gets_address_space_limit(self, tmp_path: Path):
        """Node gets RLIMIT_DATA, never RLIMIT_AS (which kills it at start-up)."""
        limits = dict(confinement("javascript", tmp_path).rlimits)
        assert resource.RLIMIT_AS not in limits
        assert limits[resource.RLIMIT_DATA] == 256 << 20

    def test_shell_limit_matches(self, tmp_path: Path):
        """The init's `ulimit` sets the same limit: -v (RLIMIT_AS) for Python, -d for Node."""
        assert confinement("python", tmp_path).shell_limit == ("-v", 256 * 1024)
        assert confinement("javascript", tmp_path).shell_limit == ("-d", 256 * 1024)

    def test_isolated_preexec_leaves_memory_to_the_init(self, tmp_path: Path):
        """With namespaces the child (unshare) gets RLIMIT_CORE only, not the memory limit."""
        isolated = Confinement.create(
            "python", memory_mb=256, pids_max=64, workdir=tmp_path, cgroups=None, isolated=True
        )
        with isolated.preexec() as preexec:
            child = subprocess.Popen(["sleep", "60"], preexec_fn=preexec)
        try:
            limits = Path(f"/proc/{child.pid}/limits").read_text()
        finally:
            child.kill()
            child.wait()
        address_space = next(line for line in limits.splitlines() if "address space" in line)
        core = next(line for line in limits.splitlines() if "core file" in line)
        assert address_space.split()[3:5] == ["unlimited", "unlimited"]
        assert core.split()[4:6] == ["0", "0"]

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
