from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from turnout_local_subprocess.cgroups import owner
from turnout_local_subprocess.identity import Exposure
from turnout_local_subprocess.mounts import (
    KIT_PREFIX,
    ExposureKit,
    fstab_field,
    plan,
    sweep_stale_kits,
)
from turnout_local_subprocess.workdir import Workspace


@pytest.fixture
def kit() -> Iterator[ExposureKit]:
    """The kit exposing pyenv's Python from /root."""
    made = ExposureKit.create([Exposure(Path("/root/.pyenv/versions/3.11.7"), Path("/root"))])
    yield made
    made.remove()


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
        lies under one of them, is bound onto its own path inside that copy first."""
        covering = workspace.root.parent
        other = Path("/nonexistent-scratch")
        fstab, checks = plan(workspace, (other, covering))
        copy = workspace.root / "scratch" / "-".join(covering.parts[1:])
        anchor = copy / workspace.root.relative_to(covering)
        assert fstab == workspace.control / "fstab"
        assert fstab.read_text().splitlines() == [
            f"{workspace.root} {anchor} none bind 0 0",
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

    def test_the_way_to_the_anchor_is_searchable_whatever_the_umask(self, workspace: Workspace):
        """Under umask 077 the directories down to the anchor are still mode 755, so an
        unprivileged program can reach its working directory through the private copy."""
        covering = workspace.root.parent.parent
        previous = os.umask(0o077)
        try:
            plan(workspace, (covering,))
        finally:
            os.umask(previous)
        copy = workspace.root / "scratch" / "-".join(covering.parts[1:])
        way = workspace.root.relative_to(covering).parts
        for depth in range(len(way)):
            directory = copy.joinpath(*way[: depth + 1])
            assert stat.S_IMODE(directory.stat().st_mode) == 0o755

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

    def test_exposures_come_first(self, workspace: Workspace, kit: ExposureKit):
        """The kit's mounts are made before any scratch copy covers the paths they use."""
        fstab, _ = plan(workspace, (workspace.root.parent,), kit)
        assert fstab is not None
        lines = fstab.read_text().splitlines()
        assert lines[: len(kit.lines())] == kit.lines()


class TestExposureKit:
    """The staging and cover directories, made once and shared by executions."""

    def test_staged_covered_and_bound_back(self, kit: ExposureKit):
        """The prefix is staged before the hidden directory is covered, then bound back
        read-only at its own path inside the cover."""
        root = kit.root
        assert kit.lines() == [
            f"/root/.pyenv/versions/3.11.7 {root / 'stage-0'} none bind 0 0",
            f"{root / 'cover-0'} /root none bind 0 0",
            f"{root / 'stage-0'} /root/.pyenv/versions/3.11.7 none bind,ro,nosuid,nodev 0 0",
        ]

    def test_cover_holds_only_the_path_to_the_prefix(self, kit: ExposureKit):
        """The cover is root's and searchable down to the prefix (mode 755), empty besides."""
        cover = kit.root / "cover-0"
        found = sorted(str(path.relative_to(cover)) for path in cover.rglob("*"))
        assert found == [".pyenv", ".pyenv/versions", ".pyenv/versions/3.11.7"]
        for path in (cover, *cover.rglob("*")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o755
            assert path.stat().st_uid == 0

    def test_one_cover_per_hidden_directory(self, tmp_path: Path):
        """Two prefixes under the same hidden directory share its cover, both staged first."""
        kit = ExposureKit.create(
            [Exposure(Path("/root/a"), Path("/root")), Exposure(Path("/root/b/c"), Path("/root"))]
        )
        try:
            targets = [line.split()[1] for line in kit.lines()]
            assert targets == [
                str(kit.root / "stage-0"),
                str(kit.root / "stage-1"),
                "/root",
                "/root/a",
                "/root/b/c",
            ]
        finally:
            kit.remove()
        assert not kit.root.exists()

    def test_nothing_to_mount(self, workspace: Workspace):
        """Without scratch directories or exposures there is no fstab."""
        assert plan(workspace, ()) == (None, [])

    def test_fstab_escapes_whitespace_and_backslashes(self):
        """Paths go into fstab with octal escapes, as libmount expects."""
        assert fstab_field(Path("/tmp/a b\tc\\d\ne")) == "/tmp/a\\040b\\011c\\134d\\012e"


class TestSweepStaleKits:
    """Kits left by a process that died are removed; live ones and others' are kept."""

    def test_only_dead_owners_kits_of_this_namespace_go(self, tmp_path: Path):
        """A kit of a dead pid in this pid namespace is removed; one of a live pid, one of
        another namespace and an unrelated directory stay."""
        namespace = owner().partition("-")[0]
        gone_pid = _dead_pid()
        names = {
            "dead": f"{KIT_PREFIX}{namespace}-{gone_pid}-abc",
            "live": f"{KIT_PREFIX}{namespace}-{os.getpid()}-abc",
            "elsewhere": f"{KIT_PREFIX}1-{gone_pid}-abc",
            "unrelated": f"turnout-local-{namespace}-{gone_pid}",
        }
        for name in names.values():
            (tmp_path / name / "stage-0").mkdir(parents=True)
        assert sweep_stale_kits(tmp_path) == [names["dead"]]
        assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
            names[key] for key in ("live", "elsewhere", "unrelated")
        )


def _dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
