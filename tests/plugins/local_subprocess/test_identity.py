from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from turnout_local_subprocess import identity
from turnout_local_subprocess.identity import Exposure, Identity, expose, find_identity

SANDBOX = Identity(65000, 65000, "/usr/bin/setpriv")


@pytest.fixture
def open_root() -> Iterator[Path]:
    """A directory whose ancestors everyone may search (pytest's tmp_path is under a
    mode-700 directory of its own)."""
    root = Path(os.path.realpath(tempfile.mkdtemp(prefix="turnout-test-identity-")))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root)


def tree(root: Path, mode: int) -> Path:
    """root/hidden (mode `mode`, root's) / tool / bin / python (an executable file)."""
    hidden = root / "hidden"
    binary = hidden / "tool" / "bin" / "python"
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    binary.chmod(0o755)
    hidden.chmod(mode)
    root.chmod(0o755)
    return binary


class TestIdentity:
    """The unprivileged identity and the permissions it has."""

    @pytest.mark.parametrize(
        ("owner", "group", "mode", "searchable"),
        [
            (0, 0, 0o700, False),
            (0, 0, 0o701, True),
            (65000, 0, 0o700, True),
            (0, 65000, 0o710, True),
            (0, 65000, 0o701, False),
        ],
    )
    def test_can_search_follows_the_mode_bits(
        self, tmp_path: Path, owner: int, group: int, mode: int, searchable: bool
    ):
        """The owner's, the group's or the others' execute bit applies, whichever fits."""
        directory = tmp_path / "d"
        directory.mkdir()
        os.chown(directory, owner, group)
        directory.chmod(mode)
        assert SANDBOX.can_search(directory) is searchable

    def test_own_tree_gives_everything(self, tmp_path: Path):
        """A directory, its subdirectories, files and symlinks (not their targets) change
        owner."""
        (tmp_path / "a" / "b").mkdir(parents=True)
        (tmp_path / "a" / "b" / "f").write_text("x")
        (tmp_path / "a" / "link").symlink_to("/etc/hostname")
        SANDBOX.own_tree(tmp_path / "a")
        for path in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "f"):
            assert (path.stat().st_uid, path.stat().st_gid) == (65000, 65000)
        assert (tmp_path / "a" / "link").lstat().st_uid == 65000
        assert Path("/etc/hostname").stat().st_uid == 0


class TestExpose:
    """What must be exposed for the identity to start an interpreter."""

    def test_reachable_interpreter_needs_nothing(self, open_root: Path):
        """An interpreter the identity can reach is started as it is, by its real path."""
        binary = tree(open_root, 0o755)
        assert expose(SANDBOX, str(binary)) == (None, binary)

    def test_hidden_interpreter_exposes_its_prefix(self, open_root: Path):
        """Under a mode-700 directory, the prefix above bin/ is exposed from it."""
        binary = tree(open_root, 0o700)
        exposure, real = expose(SANDBOX, str(binary))
        assert exposure == Exposure(open_root / "hidden" / "tool", open_root / "hidden")
        assert real == binary

    def test_a_symlink_is_followed(self, open_root: Path):
        """A symlink elsewhere is resolved, so the exposure and the path are the target's."""
        binary = tree(open_root, 0o700)
        link = open_root / "python3"
        link.symlink_to(binary)
        assert expose(SANDBOX, str(link))[1] == binary

    def test_a_prefix_that_is_the_hidden_directory_is_refused(self, open_root: Path):
        """Exposing the hidden directory itself would expose all of it: refused."""
        binary = open_root / "hidden" / "bin" / "python"
        binary.parent.mkdir(parents=True)
        binary.write_text("")
        (open_root / "hidden").chmod(0o700)
        open_root.chmod(0o755)
        with pytest.raises(ValueError, match="cannot be exposed alone"):
            expose(SANDBOX, str(binary))


class TestFind:
    """Whether this worker can switch user code to the identity."""

    def test_needs_root(self, monkeypatch: pytest.MonkeyPatch):
        """A worker that is not root cannot change uid; the reason says so."""
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
        found, problem = find_identity(65000, 65000)
        assert found is None
        assert "not run as root" in problem

    def test_needs_setpriv(self, monkeypatch: pytest.MonkeyPatch):
        """Without setpriv on PATH there is no identity, and the reason names it."""
        monkeypatch.setattr(os, "geteuid", lambda: 0)
        monkeypatch.setattr(identity.shutil, "which", lambda name: None)
        assert find_identity(65000, 65000) == (None, "'setpriv' (util-linux) was not found on PATH")
