from __future__ import annotations

import stat
from pathlib import Path

import pytest
from turnout_local_subprocess.identity import Exposure
from turnout_local_subprocess.mounts import TMPFS_OPTIONS, fstab_field, plan
from turnout_local_subprocess.workdir import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    created = Workspace(tmp_path / "root")
    created.work.mkdir(parents=True)
    created.control.mkdir()
    return created


class TestPlan:
    """The fstab of one execution and the checks the init makes after mounting it."""

    def test_scratch_copies_and_anchor(self, workspace: Workspace):
        """Each covered directory gets a world-writable sticky copy; the workspace, which
        lies under one of them, is bound recursively onto its own path inside that copy
        first."""
        covering = workspace.root.parent
        other = Path("/nonexistent-scratch")
        fstab, checks = plan(workspace, (other, covering))
        copy = workspace.root / "scratch" / "-".join(covering.parts[1:])
        anchor = copy / workspace.root.relative_to(covering)
        assert fstab == workspace.control / "fstab"
        assert fstab.read_text().splitlines() == [
            f"{workspace.root} {anchor} none rbind 0 0",
            f"{workspace.root / 'scratch' / 'nonexistent-scratch'} {other} none rbind 0 0",
            f"{copy} {covering} none rbind 0 0",
        ]
        assert anchor.is_dir()
        assert stat.S_IMODE(copy.stat().st_mode) == 0o1777
        assert stat.S_IMODE((workspace.root / "scratch").stat().st_mode) == 0o700
        assert checks == [
            str(other),
            str(workspace.root / "scratch" / "nonexistent-scratch"),
            str(covering),
            str(copy),
        ]

    def test_a_workspace_outside_the_scratch_directories_is_covered_too(self, workspace: Workspace):
        """When the workspace's parent (a TMPDIR elsewhere) is not covered, it gets a private
        copy of its own, so other executions' directories there are out of sight."""
        fstab, checks = plan(workspace, (Path("/nonexistent-scratch"),))
        parent = workspace.root.parent
        assert checks[2:] == [
            str(parent),
            str(workspace.root / "scratch" / "-".join(parent.parts[1:])),
        ]
        assert fstab is not None
        assert f"{workspace.root} " in fstab.read_text().splitlines()[0]

    def test_exposure_is_staged_covered_and_bound_back(self, workspace: Workspace):
        """The prefix is staged before the hidden directory is covered by a tmpfs (bound from
        a cover directory), then bound back read-only; both are checked."""
        exposure = Exposure(Path("/root/.pyenv/versions/3.11.7"), Path("/root"))
        fstab, checks = plan(workspace, (), (exposure,))
        base = workspace.root / "scratch"
        assert fstab is not None
        assert fstab.read_text().splitlines() == [
            f"/root/.pyenv/versions/3.11.7 {base / 'expose-0'} none bind 0 0",
            f"turnout-cover-root-0 {base / 'cover-0'} tmpfs {TMPFS_OPTIONS} 0 0",
            f"{base / 'cover-0'} /root none bind 0 0",
            f"{base / 'expose-0'} /root/.pyenv/versions/3.11.7 none "
            "bind,ro,nosuid,nodev,X-mount.mkdir 0 0",
        ]
        assert checks == [
            "/root",
            str(base / "cover-0"),
            "/root/.pyenv/versions/3.11.7",
            str(base / "expose-0"),
        ]

    def test_one_cover_per_hidden_directory(self, workspace: Workspace):
        """Two prefixes under the same hidden directory share its cover, staged first."""
        exposures = (
            Exposure(Path("/root/a"), Path("/root")),
            Exposure(Path("/root/b/c"), Path("/root")),
        )
        fstab, _ = plan(workspace, (), exposures)
        assert fstab is not None
        kinds = [line.split()[2] + ":" + line.split()[1] for line in fstab.read_text().splitlines()]
        base = workspace.root / "scratch"
        assert kinds == [
            f"none:{base / 'expose-0'}",
            f"none:{base / 'expose-1'}",
            f"tmpfs:{base / 'cover-0'}",
            "none:/root",
            "none:/root/a",
            "none:/root/b/c",
        ]

    def test_nothing_to_mount(self, workspace: Workspace):
        """Without scratch directories or exposures there is no fstab."""
        assert plan(workspace, ()) == (None, [])

    def test_fstab_escapes_whitespace_and_backslashes(self):
        """Paths go into fstab with octal escapes, as libmount expects."""
        assert fstab_field(Path("/tmp/a b\tc\\d\ne")) == "/tmp/a\\040b\\011c\\134d\\012e"
