"""Shape a kernel's namespaces into a sandbox's machine: run as root, inside them, as a script.

    python -I -S confine.py seal SPEC      (by the kernel's init, before the kernel starts)
    python -I -S confine.py attach SPEC    (through nsenter, when a sandbox adopts the kernel)

Why a script of its own: it runs inside the namespaces a kernel was started in (see
isolation.py), where only the standard library may be taken for granted (`-I -S`: no site
directory, no environment), and it needs system calls Python does not wrap (the mount API of
Linux 5.12: open_tree, move_mount, mount_setattr). SPEC is a JSON object; everything it
names is a path of the namespace the script runs in.

`seal` makes what every kernel shares, before the kernel runs:
- the loopback interface of the kernel's own network namespace is brought up (there is
  no other interface: the sandbox reaches no network, and nothing outside, the server's
  port included);
- every mount is made read-only (recursively, from /), so that no file outside the
  sandbox's own directories can be written, whatever its permissions say; the kernel's own
  /proc stays writable, and so do the paths in `writable` (the Python kernel's runtime
  directory, where it binds its sockets as it starts);
- each of `covers` is hidden under an empty tmpfs of its `mode`, in which only its `keep`
  paths (the interpreter, when it lives under /root) and the `writable` ones under it are
  bound back, and its `dirs` (the /home/user mount point) exist; read-only (/root, /home)
  unless `read_only` is false (/tmp, /var/tmp, /dev/shm: until a sandbox's scratch
  directories cover them, the kernel writes there, into a 1 MiB tmpfs of its own).

`attach` binds one sandbox into the kernel's mount namespace: each of `binds`
(`[descriptor, target]`: the sandbox's directory on /home/user, its scratch directories on
/tmp, /var/tmp and /dev/shm), writable, with the `keep` paths under a target (an
interpreter under /tmp) bound back read-only. The descriptors are detached copies the
server made in its own mount namespace (`clone_tree`, with this module imported) and
handed down: the sandbox's directories lie where the sealed kernel cannot see them. It
refuses to run in the mount namespace of the process whose descriptor `guard_fd` is open
on (the server's): mounting over /tmp there would hide the host's /tmp from every process
on it.

Nothing here follows a symbolic link it did not make: mount points are created one
component at a time, refusing links, because a scratch directory's content is the
sandbox's own (a link planted there by an earlier kernel of the same sandbox must not
redirect a mount). Every failure exits with status 1 and one line on stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Any

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
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = struct.Struct("16sH22x")
COVER_OPTIONS = b"mode=%o,size=1m,nr_inodes=1024"

_libc = ctypes.CDLL(None, use_errno=True)


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
        f"cloning the mounts at {path}",
    )


def attach(tree: int, target: str) -> None:
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


def set_read_only(where: str | int, read_only: bool, *, recursive: bool) -> None:
    """Make the mount at `where` (a path, or a descriptor from `clone_tree`) read-only or
    writable, and no-setuid; with `recursive`, every mount under it too."""
    attr = _MountAttr()
    if read_only:
        attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID
    else:
        attr.attr_set = MOUNT_ATTR_NOSUID
        attr.attr_clr = MOUNT_ATTR_RDONLY
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


def mount_cover(target: str, mode: str) -> None:
    """An empty tmpfs on `target`, root's, with `mode` (octal digits)."""
    options = COVER_OPTIONS % int(mode, 8)
    _check(
        _libc.mount(
            ctypes.c_char_p(b"tmpfs"),
            ctypes.c_char_p(os.fsencode(target)),
            ctypes.c_char_p(b"tmpfs"),
            ctypes.c_ulong(MS_NOSUID | MS_NODEV),
            ctypes.c_char_p(options),
        ),
        f"covering {target}",
    )


def make_directories(path: str) -> None:
    """Create `path` and its missing parents, never following a symbolic link."""
    parts = [part for part in path.split("/") if part]
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
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


def loopback_up() -> None:
    """Bring up `lo` in this network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = IFREQ.pack(b"lo", 0)
        (_, flags) = IFREQ.unpack(fcntl.ioctl(sock, SIOCGIFFLAGS, request))
        fcntl.ioctl(sock, SIOCSIFFLAGS, IFREQ.pack(b"lo", flags | IFF_UP))


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def clone_all(paths: Sequence[str], *, read_only: bool) -> list[tuple[str, int]]:
    """Detached copies of the mounts at `paths` (those that exist), taken before anything
    is mounted over them; read-only or writable."""
    trees = []
    for path in paths:
        if os.path.exists(path):
            tree = clone_tree(path)
            set_read_only(tree, read_only, recursive=True)
            trees.append((path, tree))
    return trees


def put_back(trees: Sequence[tuple[str, int]], under: str) -> None:
    """Mount each copy from `clone_all` that lies under `under` at its own path again."""
    for path, tree in trees:
        if _under(path, under) and path != under:
            make_directories(path)
            attach(tree, path)


def seal(spec: dict[str, Any]) -> None:
    if spec.get("loopback", True):
        loopback_up()
    covers = spec.get("covers", [])
    writable = clone_all(spec.get("writable", []), read_only=False)
    kept = clone_all([path for item in covers for path in item.get("keep", [])], read_only=True)
    set_read_only("/", True, recursive=True)
    set_read_only("/proc", False, recursive=False)
    for item in covers:
        target = item["path"]
        if not os.path.isdir(target):
            raise ConfineError(f"{target} is not a directory")
        mount_cover(target, item.get("mode", "755"))
        put_back(kept, target)
        put_back(writable, target)
        for path in item.get("dirs", []):
            make_directories(path)
        if item.get("read_only", True):
            set_read_only(target, True, recursive=False)
    for path, tree in writable:
        if not any(_under(path, item["path"]) for item in covers):
            attach(tree, path)


def attach_sandbox(spec: dict[str, Any]) -> None:
    guard = os.stat(f"/proc/self/fd/{spec['guard_fd']}")
    mine = os.stat("/proc/self/ns/mnt")
    if (guard.st_dev, guard.st_ino) == (mine.st_dev, mine.st_ino):
        raise ConfineError("refusing to mount in the server's own mount namespace")
    kept = clone_all(spec.get("keep", []), read_only=True)
    for tree, target in spec["binds"]:
        set_read_only(tree, False, recursive=False)
        attach(tree, target)
        put_back(kept, target)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("seal", "attach"):
        print("usage: confine.py seal|attach SPEC-JSON", file=sys.stderr)
        return 2
    try:
        spec = json.loads(argv[2])
        (seal if argv[1] == "seal" else attach_sandbox)(spec)
    except (ConfineError, OSError, ValueError, KeyError, TypeError) as exc:
        print(f"turnout-confine {argv[1]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
