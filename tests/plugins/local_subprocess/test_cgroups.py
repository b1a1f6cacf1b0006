from __future__ import annotations

from pathlib import Path

import pytest
from turnout_local_subprocess.cgroups import PARENT, CgroupHost, Jail, owner, probe, sweep_stale
from turnout_local_subprocess.limits import Confinement

from .support import needs_cgroups
from .test_limits import entered


def fake_controller(mount: Path, name: str) -> None:
    (mount / name).mkdir(parents=True)
    (mount / name / "cgroup.procs").write_text("")


class TestProbe:
    """Finding the parent cgroups, or deciding there are none."""

    def test_no_memory_controller(self, tmp_path: Path):
        """A mount without a memory controller means no cgroups."""
        assert probe(tmp_path) is None

    def test_memory_without_pids(self, tmp_path: Path):
        """Memory alone is enough; the pids limit is then skipped."""
        fake_controller(tmp_path, "memory")
        assert probe(tmp_path) == CgroupHost(tmp_path / "memory" / PARENT, None)
        assert (tmp_path / "memory" / PARENT).is_dir()

    def test_memory_and_pids(self, tmp_path: Path):
        """Both controllers give both parents."""
        fake_controller(tmp_path, "memory")
        fake_controller(tmp_path, "pids")
        host = probe(tmp_path)
        assert host is not None
        assert host.pids == tmp_path / "pids" / PARENT


class TestMemoryExhausted:
    """Reading whether the kernel killed something for memory."""

    @pytest.mark.parametrize(("count", "expected"), [("0", False), ("2", True)])
    def test_oom_kill_counter(self, tmp_path: Path, count: str, expected: bool):
        """The oom_kill counter of memory.oom_control decides."""
        (tmp_path / "memory.oom_control").write_text(
            f"oom_kill_disable 0\nunder_oom 0\noom_kill {count}\n"
        )
        (tmp_path / "memory.failcnt").write_text("5\n")
        assert Jail(tmp_path, [tmp_path]).memory_exhausted() is expected

    def test_failcnt_fallback(self, tmp_path: Path):
        """On kernels without the counter, a non-zero failcnt counts."""
        (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n")
        (tmp_path / "memory.failcnt").write_text("3\n")
        assert Jail(tmp_path, [tmp_path]).memory_exhausted() is True

    def test_unreadable_is_false(self, tmp_path: Path):
        """Missing files mean nothing is known, so no memory verdict."""
        assert Jail(tmp_path, [tmp_path]).memory_exhausted() is False


@needs_cgroups
class TestJail:
    """Real cgroup v1 jails on this host."""

    @pytest.fixture
    def jail(self):
        host = probe()
        assert host is not None
        created = Jail.create(host, 64 * 1024 * 1024, 32)
        yield created
        created.kill_members()
        created.remove_empty()

    def test_limits_are_written(self, jail: Jail):
        """The memory limit and pids.max are set on creation."""
        assert (jail.memory / "memory.limit_in_bytes").read_text().strip() == str(64 << 20)
        pids = [d for d in jail.directories if d != jail.memory]
        assert [(d / "pids.max").read_text().strip() for d in pids] == ["32"] * len(pids)

    def test_child_joins_before_exec_and_is_killed(self, jail: Jail, tmp_path: Path):
        """A child started through the prelude is a member, and kill_members kills it."""
        confinement = Confinement("python", 64 << 20, tmp_path, jail=jail)
        child = entered(confinement, ["sleep", "60"])
        try:
            assert child.pid in jail.members()
            jail.kill_members()
            assert child.wait(timeout=5) == -9
        finally:
            child.kill()
            child.wait()
        assert jail.members() == set()
        assert jail.remove_empty() is True
        assert not jail.memory.exists()

    def test_sweep_removes_jails_of_dead_hosts(self, jail: Jail):
        """A jail named after a dead process of this namespace is removed; live ones stay."""
        host = probe()
        assert host is not None
        namespace = owner().partition("-")[0]
        stale = host.memory / f"{namespace}-999999999-stale"
        stale.mkdir()
        removed = sweep_stale(host)
        assert f"memory/{stale.name}" in removed
        assert not stale.exists()
        assert jail.memory.exists()
        assert jail.name.startswith(f"{owner()}-")

    def test_sweep_leaves_other_namespaces_alone(self):
        """A jail from another pid namespace is kept: its pid means nothing here."""
        host = probe()
        assert host is not None
        foreign = host.memory / "1-999999999-foreign"
        foreign.mkdir()
        try:
            assert f"memory/{foreign.name}" not in sweep_stale(host)
            assert foreign.exists()
        finally:
            foreign.rmdir()
