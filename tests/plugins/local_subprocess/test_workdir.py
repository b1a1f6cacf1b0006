from __future__ import annotations

import os
from pathlib import Path

import pytest
from turnout_local_subprocess.workdir import Workspace

from turnout.errors import ConfigurationError


@pytest.fixture
def workspace():
    created = Workspace.create()
    yield created
    created.remove()


class TestLayout:
    """A fresh root with separate work and control directories."""

    def test_work_and_control_are_siblings(self, workspace: Workspace):
        """The control directory is outside the working directory, under the same root."""
        assert workspace.work.parent == workspace.control.parent == workspace.root
        assert list(workspace.work.iterdir()) == []

    def test_root_is_resolved(self, workspace: Workspace):
        """The root path has no symlinks, so Node's __filename matches the script path."""
        assert str(workspace.root) == os.path.realpath(workspace.root)

    def test_javascript_is_pinned_to_commonjs(self, workspace: Workspace):
        """A JavaScript program gets a package.json declaring CommonJS beside it."""
        program = workspace.write_program("javascript", "1")
        assert program.parent == workspace.control
        assert '"commonjs"' in (workspace.control / "package.json").read_text()


class TestPaths:
    """Request paths are confined to the working directory."""

    @pytest.mark.parametrize("path", ["a.txt", "deep/er/a.txt", "./a.txt"])
    def test_relative_paths_map_inside(self, workspace: Workspace, path: str):
        """Plain relative paths land inside `work/`."""
        assert workspace.work in workspace.inside(path, what="files").parents

    @pytest.mark.parametrize("path", ["", ".", "/abs", "../up", "a/../../up", "nul\x00byte"])
    def test_escaping_paths_are_refused(self, workspace: Workspace, path: str):
        """Empty, absolute, parent-relative and NUL-containing paths are ConfigurationErrors."""
        with pytest.raises(ConfigurationError, match="inside the working directory"):
            workspace.inside(path, what="files")

    def test_colliding_files_are_refused(self, workspace: Workspace):
        """A file that would need another file to be a directory is a ConfigurationError."""
        with pytest.raises(ConfigurationError, match="collides"):
            workspace.write_files({"a": b"1", "a/b": b"2"})


class TestReadResult:
    """Only a regular file inside the working directory is read, never past the limit."""

    def test_regular_file_is_read(self, workspace: Workspace):
        """A regular file's bytes are returned."""
        (workspace.work / "r").write_bytes(b"data")
        assert workspace.read_result("r", 10).data == b"data"

    def test_missing_file_is_none(self, workspace: Workspace):
        """No file means no result, without an error."""
        assert workspace.read_result("r", 10).data is None

    def test_over_the_limit_is_too_large(self, workspace: Workspace):
        """A file one byte over the limit is reported as too large, with no data."""
        (workspace.work / "r").write_bytes(b"x" * 11)
        found = workspace.read_result("r", 10)
        assert (found.data, found.too_large) == (None, True)

    def test_symlink_is_not_followed(self, workspace: Workspace):
        """A result path replaced by a symlink to a host file yields no result."""
        (workspace.work / "r").symlink_to("/etc/hostname")
        assert workspace.read_result("r", 1000).data is None

    def test_symlinked_directory_is_not_followed(self, workspace: Workspace, tmp_path: Path):
        """A directory on the result path that points outside yields no result."""
        (tmp_path / "r").write_bytes(b"outside")
        (workspace.work / "out").symlink_to(tmp_path)
        assert workspace.read_result("out/r", 1000).data is None

    def test_fifo_does_not_block(self, workspace: Workspace):
        """A FIFO at the result path is not opened for a blocking read."""
        os.mkfifo(workspace.work / "r")
        assert workspace.read_result("r", 1000).data is None

    def test_directory_is_none(self, workspace: Workspace):
        """A directory at the result path yields no result."""
        (workspace.work / "r").mkdir()
        assert workspace.read_result("r", 1000).data is None


class TestRemove:
    """Removal deletes everything and says whether it worked."""

    def test_remove_deletes_read_only_trees(self):
        """Directories the program made read-only are removed too."""
        workspace = Workspace.create()
        locked = workspace.work / "locked"
        (locked / "inner").mkdir(parents=True)
        (locked / "inner" / "f").write_text("x")
        locked.chmod(0o500)
        (locked / "inner").chmod(0o000)
        assert workspace.remove() is True
        assert not workspace.root.exists()
