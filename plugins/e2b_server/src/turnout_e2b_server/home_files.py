"""Open files in a sandbox's directory for envd's /files, safely against its own code.

Why not open by path: the server runs as root and the directory belongs to the sandbox's
user, whose code can swap any directory on the way for a symbolic link between a check
and an open (to /etc, to another sandbox). Here every step is relative to a descriptor
already held, and no link is followed by the system: a link is read and resolved in the
sandbox's own view (an absolute target is a path of its machine, a relative one is
relative to the link's directory), and the walk starts again from the top of the sandbox's
directory. A path or a link leading out of /home/user is refused (400), as is a chain of
more than MAX_LINKS links. Created directories and files belong to the sandbox's user.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from pathlib import Path

from turnout_e2b_server.errors import ApiError
from turnout_e2b_server.paths import SANDBOX_HOME, sandbox_path

__all__ = ["MAX_LINKS", "open_for_reading", "open_for_writing"]

MAX_LINKS = 40
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
Owner = tuple[int, int] | None


def open_for_reading(home: Path, raw: str) -> tuple[int, str]:
    """A descriptor of the regular file at sandbox path `raw`, and the normalised path.

    400 for a directory, 404 if there is no such file.
    """
    virtual = sandbox_path(raw)
    for _ in range(MAX_LINKS + 1):
        try:
            parent, name = _parent(home, virtual, create=None)
        except FileNotFoundError:
            raise ApiError(404, f"path '{virtual}' does not exist") from None
        try:
            if name is None:
                raise ApiError(400, f"path '{virtual}' is a directory")
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            except FileNotFoundError:
                raise ApiError(404, f"path '{virtual}' does not exist") from None
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise ApiError(400, f"path '{virtual}' cannot be read: {exc}") from None
                virtual = _follow(parent, name, posixpath.dirname(virtual), virtual)
                continue
        finally:
            os.close(parent)
        kind = os.fstat(fd).st_mode
        if stat.S_ISREG(kind):
            return fd, virtual
        os.close(fd)
        if stat.S_ISDIR(kind):
            raise ApiError(400, f"path '{virtual}' is a directory")
        raise ApiError(400, f"path '{virtual}' is not a regular file")
    raise ApiError(400, f"path '{raw}' has too many levels of symbolic links")


def open_for_writing(home: Path, raw: str, owner: Owner) -> tuple[int, str]:
    """A descriptor of the file at sandbox path `raw`, created or emptied, and the
    normalised path; missing parent directories are created. 400 if it cannot be."""
    virtual = sandbox_path(raw)
    for _ in range(MAX_LINKS + 1):
        parent, name = _parent(home, virtual, create=owner or (-1, -1))
        try:
            if name is None:
                raise ApiError(400, f"path '{virtual}' is a directory")
            flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(name, flags, 0o644, dir_fd=parent)
            except IsADirectoryError:
                raise ApiError(400, f"path '{virtual}' is a directory") from None
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise ApiError(400, f"path '{virtual}' cannot be written: {exc}") from None
                virtual = _follow(parent, name, posixpath.dirname(virtual), virtual)
                continue
        finally:
            os.close(parent)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise ApiError(400, f"path '{virtual}' is not a regular file")
        os.ftruncate(fd, 0)
        if owner is not None:
            os.fchown(fd, *owner)
        return fd, virtual
    raise ApiError(400, f"path '{raw}' has too many levels of symbolic links")


def _parent(home: Path, virtual: str, *, create: tuple[int, int] | None) -> tuple[int, str | None]:
    """A descriptor of the directory holding `virtual`, and its last name (None for the
    home itself). Directories on the way are created (owned by `create`, -1: unchanged)
    when `create` is given. A link on the way is resolved and the walk restarted."""
    for _ in range(MAX_LINKS + 1):
        names = [n for n in virtual[len(SANDBOX_HOME) :].split("/") if n]
        fd = os.open(home, _DIRECTORY)
        followed = None
        try:
            for index, name in enumerate(names[:-1]):
                try:
                    child = _enter(fd, name, create)
                except _LinkError:
                    where = posixpath.join(SANDBOX_HOME, *names[:index])
                    rest = "/".join(names[index + 1 :])
                    followed = posixpath.join(_follow(fd, name, where, virtual), rest)
                    break
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        if followed is None:
            return fd, names[-1] if names else None
        os.close(fd)
        virtual = sandbox_path(followed)
    raise ApiError(400, f"path '{virtual}' has too many levels of symbolic links")


class _LinkError(Exception):
    """The component is a symbolic link."""


def _enter(parent: int, name: str, create: tuple[int, int] | None) -> int:
    """A descriptor of directory `name` in `parent`, created if missing and allowed
    (FileNotFoundError if it is missing and may not be created)."""
    try:
        return os.open(name, _DIRECTORY, dir_fd=parent)
    except FileNotFoundError:
        if create is None:
            raise
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and _is_link(parent, name)):
            raise _LinkError from None
        if exc.errno == errno.ENOTDIR:
            raise ApiError(400, f"a parent '{name}' is not a directory") from None
        raise
    try:
        os.mkdir(name, 0o755, dir_fd=parent)
    except FileExistsError:
        pass  # made meanwhile: open it (or find it is a link) below
    else:
        os.chown(name, *create, dir_fd=parent, follow_symlinks=False)
    return _enter(parent, name, None)


def _is_link(parent: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _follow(parent: int, name: str, where: str, virtual: str) -> str:
    """Where link `name` in `parent` (sandbox directory `where`) points, as a sandbox path;
    400 if that is out of /home/user (`virtual`, the path asked for, names the request)."""
    target = os.readlink(name, dir_fd=parent)
    resolved = posixpath.normpath(posixpath.join(where, target))
    if resolved != SANDBOX_HOME and not resolved.startswith(SANDBOX_HOME + "/"):
        raise ApiError(400, f"path '{virtual}' leaves the sandbox directory (a link)")
    return resolved
