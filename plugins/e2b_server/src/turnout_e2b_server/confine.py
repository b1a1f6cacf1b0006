"""The system calls that turn a kernel's namespaces into a sandbox's machine.

Why here, in ctypes: Python does not wrap the mount API of Linux 5.12 (open_tree,
move_mount, mount_setattr) nor setns, and running `mount(8)` or a fresh interpreter inside
the namespaces for each kernel cost a sandbox create hundreds of milliseconds on a loaded
machine. `confine` runs in a child forked from the server (see sandbox_mounts.py): a
single-threaded process may enter another mount namespace, and it inherits the detached
copies of the sandbox's directories the server made in its own namespace, where they are
visible. In the kernel's namespaces, as root, it:

- brings up the loopback interface of the kernel's own network namespace (there is no
  other interface: the sandbox reaches no network, and nothing outside, the server's port
  included);
- makes every mount read-only (recursively, from /), so that no file outside the sandbox's
  own directories can be written whatever its permissions say; the kernel's own /proc stays
  writable;
- hides each of `covers` (/root, /home) under an empty read-only tmpfs in which only the
  `keep` paths under it (the interpreter, when it lives under /root) are bound back,
  read-only, and its `dirs` (the /home/user mount point) exist;
- mounts each of `binds` (a detached copy of the sandbox's directory on /home/user, of its
  scratch directories on /tmp, /var/tmp and /dev/shm) writable, with the `keep` paths under
  it bound back read-only.

Nothing here follows a symbolic link it did not make: mount points are created one
component at a time, refusing links, because a scratch directory's content is the
sandbox's own (a link planted there by an earlier kernel of the same sandbox must not
redirect a mount). Every failure raises ConfineError naming the step.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct
from collections.abc import Sequence

__all__ = ["ConfineError", "Cover", "clone_tree", "confine", "enter_namespaces"]

# The new mount API has the same system call numbers on every architecture (>= 424).
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MS_NOSUID = 0x2
MS_NODEV = 0x4
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = struct.Struct("16sH22x")
COVER_OPTIONS = b"mode=755,size=64k,nr_inodes=256"

_libc = ctypes.CDLL(None, use_errno=True)

Cover = tuple[str, Sequence[str]]
"""(a directory to hide, the mount points to make in its cover)."""


class ConfineError(Exception):
    """A step failed; the message says which."""


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise ConfineError(f"{what}: {os.strerror(code)} (errno {code})")
    return result


def enter_namespaces(process: int) -> None:
    """Move this (single-threaded) process into the network and mount namespaces of the
    process whose /proc directory is open on descriptor `process`."""
    for name, kind in (("net", CLONE_NEWNET), ("mnt", CLONE_NEWNS)):
        fd = os.open(f"ns/{name}", os.O_RDONLY | os.O_CLOEXEC, dir_fd=process)
        try:
            _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(kind)), f"entering its {name}")
        finally:
            os.close(fd)
    os.chdir("/")


def clone_tree(path: str) -> int:
    """A detached copy of the mount tree at `path` (it keeps the flags it had)."""
    flags = OPEN_TREE_CLONE | os.O_CLOEXEC | AT_RECURSIVE
    return _check(
        _libc.syscall(
            ctypes.c_long(SYS_OPEN_TREE),
            ctypes.c_int(AT_FDCWD),
            ctypes.c_char_p(os.fsencode(path)),
            ctypes.c_uint(flags),
        ),
        f"copying the mounts at {path}",
    )


def _attach(tree: int, target: str) -> None:
    """Mount a detached tree (from `clone_tree`) on `target`."""
    _check(
        _libc.syscall(
            ctypes.c_long(SYS_MOVE_MOUNT),
            ctypes.c_int(tree),
            ctypes.c_char_p(b""),
            ctypes.c_int(AT_FDCWD),
            ctypes.c_char_p(os.fsencode(target)),
            ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
        ),
        f"mounting on {target}",
    )


def _set_read_only(where: str | int, read_only: bool, *, recursive: bool) -> None:
    """Make the mount at `where` (a path, or a detached tree) read-only or writable, and
    no-setuid; with `recursive`, every mount under it too."""
    attr = _MountAttr()
    attr.attr_set = MOUNT_ATTR_NOSUID | (MOUNT_ATTR_RDONLY if read_only else 0)
    attr.attr_clr = 0 if read_only else MOUNT_ATTR_RDONLY
    flags = AT_RECURSIVE if recursive else 0
    if isinstance(where, int):
        dirfd, path, flags = where, b"", flags | AT_EMPTY_PATH
    else:
        dirfd, path = AT_FDCWD, os.fsencode(where)
    _check(
        _libc.syscall(
            ctypes.c_long(SYS_MOUNT_SETATTR),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(path),
            ctypes.c_uint(flags),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"changing the mount flags of {where if isinstance(where, str) else 'a copy'}",
    )


def _mount_cover(target: str) -> None:
    """An empty tmpfs on `target`, root's, mode 755."""
    _check(
        _libc.mount(
            ctypes.c_char_p(b"tmpfs"),
            ctypes.c_char_p(os.fsencode(target)),
            ctypes.c_char_p(b"tmpfs"),
            ctypes.c_ulong(MS_NOSUID | MS_NODEV),
            ctypes.c_char_p(COVER_OPTIONS),
        ),
        f"covering {target}",
    )


def _make_directories(path: str) -> None:
    """Create `path` and its missing parents, never following a symbolic link."""
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in (part for part in path.split("/") if part):
            if part in (".", ".."):
                raise ConfineError(f"{path}: not a normalised path")
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                child = os.open(
                    part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
                )
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise ConfineError(f"{path}: a component is not a directory") from None
                raise
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def _loopback_up() -> None:
    """Bring up `lo` in this network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = IFREQ.pack(b"lo", 0)
        (_, flags) = IFREQ.unpack(fcntl.ioctl(sock, SIOCGIFFLAGS, request))
        fcntl.ioctl(sock, SIOCSIFFLAGS, IFREQ.pack(b"lo", flags | IFF_UP))


def _under(path: str, parent: str) -> bool:
    return path != parent and path.startswith(parent.rstrip("/") + "/")


def _put_back(kept: Sequence[tuple[str, int]], under: str) -> None:
    """Mount each kept copy that lies under `under` at its own path again."""
    for path, tree in kept:
        if _under(path, under):
            _make_directories(path)
            _attach(tree, path)


def confine(covers: Sequence[Cover], binds: Sequence[tuple[int, str]], keep: Sequence[str]) -> None:
    """Seal the namespaces this process is in and attach a sandbox (module docstring)."""
    _loopback_up()
    kept = []
    for path in keep:
        if os.path.exists(path):
            tree = clone_tree(path)
            _set_read_only(tree, True, recursive=True)
            kept.append((path, tree))
    _set_read_only("/", True, recursive=True)
    _set_read_only("/proc", False, recursive=False)
    for target, dirs in covers:
        if not os.path.isdir(target):
            raise ConfineError(f"{target} is not a directory")
        _mount_cover(target)
        _put_back(kept, target)
        for path in dirs:
            _make_directories(path)
        _set_read_only(target, True, recursive=False)
    for tree, target in binds:
        _set_read_only(tree, False, recursive=False)
        _attach(tree, target)
        _put_back(kept, target)
