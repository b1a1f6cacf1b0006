"""Who user code runs as: a dedicated unprivileged uid and gid, never the worker's root.

Why: as root, user code can undo every isolation of the namespace (unmount its private
/proc to read the worker's environment, unmount /tmp to read another execution's files),
write the host's cgroup files (another execution's `pids.max`, its own memory limit),
write to the namespace init's report pipe, and leave files anywhere for the next
execution. As a uid and gid that own nothing on the host, with no capabilities and
`no_new_privs`, all of that fails by permission.

How: the namespace's init (root, inside the private mount namespace) starts the program
through util-linux `setpriv` (`Identity.wrap`), which clears the supplementary groups,
sets the gid and uid, empties the inheritable and bounding capability sets and sets
`no_new_privs`, then execs the interpreter. Changing the uid away from 0 clears the
effective and permitted capabilities; `no_new_privs` keeps a set-user-ID program (`su`,
`mount`) or file capabilities from giving any back.

The interpreter must stay reachable. One installed under a directory the identity cannot
search (pyenv's Python under /root, mode 700) gets an `Exposure`: inside the private mount
namespace, the hidden directory is covered by an empty tmpfs and only the interpreter's
prefix is bind-mounted back, read-only, at its own path (`isolation` writes the mounts).
The rest of the hidden directory stays out of sight.

Nothing here depends on this backend: another local executor (the local E2B-compatible
server) can drop privileges the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_GID", "DEFAULT_UID", "Exposure", "Identity", "expose", "find_identity"]

# A uid and gid that no account on the host uses (Debian reserves 65000-65533 and
# allocates none of it), rather than `nobody`, which other services share and which may
# own files (or reserved disk blocks, ext4's `resuid`).
DEFAULT_UID = 65_000
DEFAULT_GID = 65_000


@dataclass(frozen=True)
class Identity:
    """The unprivileged uid and gid user code runs as, and the tool that switches to them."""

    uid: int
    gid: int
    setpriv: str

    def wrap(self, argv: list[str]) -> list[str]:
        """`argv` run as this identity, with no capabilities and no_new_privs."""
        return [
            self.setpriv,
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            *argv,
        ]

    def can_search(self, directory: Path) -> bool:
        """Whether this identity may pass through `directory` (its execute bit applies)."""
        info = os.stat(directory)
        if info.st_uid == self.uid:
            bit = stat.S_IXUSR
        elif info.st_gid == self.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        return bool(info.st_mode & bit)

    def own(self, path: Path) -> None:
        """Give `path` (not what a symlink points to) to this identity."""
        os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def own_tree(self, root: Path) -> None:
        """Give `root` and everything below it to this identity."""
        self.own(root)
        for directory, subdirectories, files in os.walk(root):
            for name in (*subdirectories, *files):
                self.own(Path(directory, name))


@dataclass(frozen=True)
class Exposure:
    """`prefix` (an interpreter's installation) lies under `hidden`, which the identity
    cannot search: cover `hidden` and bind `prefix` back."""

    prefix: Path
    hidden: Path


def find_identity(uid: int, gid: int) -> tuple[Identity | None, str]:
    """The identity if this worker can switch to it; otherwise None and why not."""
    if os.geteuid() != 0:
        return None, "the worker does not run as root, and only root may change to another uid"
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None, "'setpriv' (util-linux) was not found on PATH"
    return Identity(uid, gid, setpriv), ""


def expose(identity: Identity, interpreter: str) -> tuple[Exposure | None, Path]:
    """What must be exposed for `identity` to start `interpreter`, and the path to start.

    The path is the interpreter's real path (a symlink elsewhere under the hidden directory
    would not be exposed). The prefix is the directory above `bin/` (or the binary's own
    directory). Raises ValueError when the prefix itself is the hidden directory, since
    exposing it would expose everything in it.
    """
    real = Path(os.path.realpath(interpreter))
    prefix = real.parent.parent if real.parent.name == "bin" else real.parent
    hidden = None
    for directory in reversed(real.parents):
        with contextlib.suppress(OSError):
            if not identity.can_search(directory):
                hidden = directory
                break
    if hidden is None:
        return None, real
    if hidden == Path("/") or not prefix.is_relative_to(hidden) or prefix == hidden:
        raise ValueError(
            f"{real} lies in {hidden}, which uid {identity.uid} cannot search, and its "
            f"installation directory {prefix} cannot be exposed alone"
        )
    return Exposure(prefix, hidden), real
