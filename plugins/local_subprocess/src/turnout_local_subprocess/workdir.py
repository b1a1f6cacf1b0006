"""One execution's place on disk, created fresh and removed on every path.

Layout under a private temporary directory:

    <root>/work/      the program's cwd and HOME (stands in for a sandbox's home);
                      request files go here and the result file is read from here
    <root>/control/   the program file, kept outside `work/` so user code that lists or
                      cleans its working directory never sees or breaks the wrapper
    <root>/scratch/   with namespaces only, made by `mounts`: the execution's private
                      scratch directories and the staging of its other mounts

The root is resolved with `realpath` because Node resolves symlinks in `__filename`, and
the JavaScript runtime compares that with the script path it was started with.

With an `owner` (the unprivileged identity the program runs as, see `identity`), `work/`
and everything written into it belong to that identity. The root stays root's, searchable
but not listable (mode 711); `control/` is root's and readable (755, its files 644), so
the program can read its own files there but change nothing; `scratch/` stays mode 700.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from turnout.errors import ConfigurationError
from turnout.models import Language
from turnout_local_subprocess.identity import Identity

__all__ = ["ResultFile", "Workspace"]

PROGRAM_NAMES: dict[Language, str] = {"python": "program.py", "javascript": "program.js"}
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ResultFile:
    """What was found at the result path: the bytes, or why there are none."""

    data: bytes | None
    too_large: bool = False


class Workspace:
    """The temporary directories of one execution; `remove()` deletes all of it."""

    def __init__(self, root: Path, owner: Identity | None = None) -> None:
        self.root = root
        self.work = root / "work"
        self.control = root / "control"
        self.owner = owner

    @classmethod
    def create(cls, owner: Identity | None = None) -> Workspace:
        root = Path(os.path.realpath(tempfile.mkdtemp(prefix="turnout-local-")))
        workspace = cls(root, owner)
        try:
            workspace.work.mkdir(mode=0o700)
            workspace.control.mkdir(mode=0o700)
            if owner is not None:
                owner.own(workspace.work)
                os.chmod(root, 0o711)
                os.chmod(workspace.control, 0o755)
        except BaseException:
            workspace.remove()
            raise
        return workspace

    def write_control(self, name: str, text: str) -> Path:
        """Write a file the program reads (never writes) into `control/`, mode 644."""
        path = self.control / name
        path.write_text(text, encoding="utf-8")
        os.chmod(path, 0o644)
        return path

    def write_program(self, language: Language, program: str) -> Path:
        """Write the program; JavaScript is pinned to CommonJS whatever package.json is above."""
        path = self.write_control(PROGRAM_NAMES[language], program)
        if language == "javascript":
            self.write_control("package.json", json.dumps({"type": "commonjs"}))
        return path

    def write_files(self, files: dict[str, bytes]) -> None:
        """Write request files, refusing any path that would land outside `work/`; with an
        owner, they (and the directories made for them) are the owner's."""
        for relative, data in files.items():
            target = self.inside(relative, what="files")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
                raise ConfigurationError(
                    f"request file {relative!r} collides with another request file: {exc}"
                ) from None
        if files and self.owner is not None:
            self.owner.own_tree(self.work)

    def inside(self, relative: str, *, what: str) -> Path:
        """Map a request path into `work/`; absolute paths and `..` are configuration errors."""
        pure = PurePosixPath(relative)
        if (
            not relative
            or "\x00" in relative
            or pure.is_absolute()
            or ".." in pure.parts
            or not pure.parts
        ):
            raise ConfigurationError(
                f"request {what} path {relative!r} must be a relative path inside the "
                "working directory (no leading '/', no '..')"
            )
        return self.work.joinpath(*pure.parts)

    def read_result(self, relative: str, limit: int) -> ResultFile:
        """Read the result file without trusting what user code left there.

        The program may have replaced the path with a symlink, a FIFO or a directory, or
        made it huge; none of those may hang the host, leak a host file or fill memory, so
        only a regular file inside `work/` is read, and never more than `limit + 1` bytes.
        """
        path = self.inside(relative, what="result_path")
        if not _within(Path(os.path.realpath(path.parent)), self.work):
            return ResultFile(None)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.ENXIO):
                return ResultFile(None)
            raise
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return ResultFile(None)
        with os.fdopen(fd, "rb", buffering=0) as handle:
            if info.st_size > limit:
                return ResultFile(None, too_large=True)
            chunks: list[bytes] = []
            remaining = limit + 1
            while remaining > 0 and (chunk := handle.read(min(READ_CHUNK, remaining))):
                chunks.append(chunk)
                remaining -= len(chunk)
        if remaining <= 0:
            return ResultFile(None, too_large=True)
        return ResultFile(b"".join(chunks))

    def remove(self) -> bool:
        """Delete everything, even directories the program made read-only; True when gone."""
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():
            _make_writable(self.root)
            shutil.rmtree(self.root, ignore_errors=True)
        return not self.root.exists()


def _within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def _make_writable(root: Path) -> None:
    # Runs top-down, so each directory is opened up before os.walk descends into it.
    with contextlib.suppress(OSError):
        os.chmod(root, 0o700)
    for directory, subdirectories, _ in os.walk(root):
        for name in subdirectories:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
