"""The private mount table of one execution, written as an fstab for one `mount -a`.

Inside the execution's mount namespace (`isolation`), before the program starts:

1. Exposures (`identity.Exposure`, through an `ExposureKit`): the interpreter's prefix is
   bind-mounted onto a staging directory; an empty cover directory (root's, mode 755,
   holding only the path down to the prefix) is bound over the directory the program's
   identity cannot search (/root); then the staged prefix is bound back, read-only, at its
   own path inside the cover. The hidden directory's other contents are gone from view;
   the interpreter works unchanged.
2. Anchors: the workspace lies under a covered directory (normally /tmp), and covering
   that directory would hide it; so the workspace is first bound onto its own path inside
   the private copy. Inside the namespace every path of the workspace (cwd, HOME, the
   program file, Node's `__filename`) resolves as outside.
3. Scratch copies: each covered directory (/tmp, /var/tmp, /dev/shm, /run/lock, and the
   directory holding the workspace) gets an empty, world-writable, sticky private copy,
   bound recursively over it.

The kit's directories are made once per backend and serve every execution (a mount point
belongs to the namespace that mounts on it, so concurrent executions can share them):
made per execution, they cost about 4 ms each to remove on this machine's disk under load,
on the critical path of every execution. A kit is removed when its backend is closed or
its process exits; one left by a process that died is swept, like a stale cgroup jail, by
the next backend made in the same pid namespace (its name holds the owner's pid).

Each scratch copy's source is unique to the execution, so `mount -a` never skips one as
"already mounted"; the init also checks, with `test -ef`, that every covered path is its
private copy (`plan` returns those pairs). An exposure needs no such check: had its mounts
not happened, the interpreter could not be reached and the execution would not start (the
identity cannot search the hidden directory), which is reported as such.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from turnout_local_subprocess.cgroups import alive, owner
from turnout_local_subprocess.identity import Exposure
from turnout_local_subprocess.workdir import Workspace

__all__ = ["KIT_PREFIX", "ExposureKit", "fstab_field", "plan", "sweep_stale_kits"]

KIT_PREFIX = "turnout-local-kit-"


@dataclass(frozen=True)
class ExposureKit:
    """The staging and cover directories of some exposures, made once, shared by executions.

    Layout under `root` (root's, mode 700): `stage-<i>` for the i-th exposure, and for the
    j-th hidden directory `cover-<j>/` holding the path to each prefix under it (mode 755).
    """

    root: Path
    exposures: tuple[Exposure, ...]

    @classmethod
    def create(cls, exposures: Sequence[Exposure]) -> ExposureKit:
        prefix = f"{KIT_PREFIX}{owner()}-"
        root = Path(os.path.realpath(tempfile.mkdtemp(prefix=prefix)))
        kit = cls(root, tuple(exposures))
        atexit.register(kit.remove)
        try:
            for index in range(len(kit.exposures)):
                (root / f"stage-{index}").mkdir()
            for exposure in kit.exposures:
                cover = kit.cover(exposure.hidden)
                for directory in (cover, *_path_down(cover, exposure.prefix, exposure.hidden)):
                    directory.mkdir(exist_ok=True)
                    os.chmod(directory, 0o755)
        except BaseException:
            kit.remove()
            raise
        return kit

    def cover(self, hidden: Path) -> Path:
        hiddens = list(dict.fromkeys(exposure.hidden for exposure in self.exposures))
        return self.root / f"cover-{hiddens.index(hidden)}"

    def lines(self) -> list[str]:
        """The fstab lines, in order: every prefix staged before any hidden directory is
        covered (covering it hides the prefix), then the covers, then the prefixes back."""
        staged = [
            (exposure, self.root / f"stage-{index}")
            for index, exposure in enumerate(self.exposures)
        ]
        lines = [_line(exposure.prefix, stage, "bind") for exposure, stage in staged]
        for hidden in dict.fromkeys(exposure.hidden for exposure in self.exposures):
            lines.append(_line(self.cover(hidden), hidden, "bind"))
        for exposure, stage in staged:
            lines.append(_line(stage, exposure.prefix, "bind,ro,nosuid,nodev"))
        return lines

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def sweep_stale_kits(directory: Path | None = None) -> list[str]:
    """Remove kits (in the temporary directory) whose process is gone; returns their names.

    Only kits of this pid namespace are considered, since a pid from another one says
    nothing here.
    """
    namespace = owner().partition("-")[0]
    removed: list[str] = []
    with contextlib.suppress(OSError):
        for entry in (directory or Path(tempfile.gettempdir())).iterdir():
            their_namespace, _, rest = entry.name.removeprefix(KIT_PREFIX).partition("-")
            pid = rest.partition("-")[0]
            if (
                not entry.name.startswith(KIT_PREFIX)
                or their_namespace != namespace
                or not pid.isdigit()
                or alive(int(pid))
            ):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def plan(
    workspace: Workspace, scratch: Sequence[Path], kit: ExposureKit | None = None
) -> tuple[Path | None, list[str]]:
    """Create the private copies and the fstab; return its path and the (path, copy) checks."""
    targets = list(scratch)
    if scratch and not any(workspace.root.is_relative_to(target) for target in targets):
        targets.append(workspace.root.parent)  # a TMPDIR outside the usual places
    exposures = [] if kit is None else kit.lines()
    if not targets and not exposures:
        return None, []
    base = workspace.root / "scratch"
    base.mkdir(mode=0o700)
    anchors: list[str] = []
    copies: list[str] = []
    checks: list[str] = []
    for target in targets:
        source = base / "-".join(target.parts[1:])
        source.mkdir()
        os.chmod(source, 0o1777)
        if workspace.root.is_relative_to(target):
            anchor = source / workspace.root.relative_to(target)
            # The directories down to the anchor are what an unprivileged program passes
            # through inside the copy: searchable whatever the worker's umask.
            for directory in _path_down(source, workspace.root, target):
                directory.mkdir()
                os.chmod(directory, 0o755)
            anchors.append(_line(workspace.root, anchor, "bind"))
        copies.append(_line(source, target, "rbind"))
        checks += [str(target), str(source)]
    fstab = workspace.control / "fstab"
    fstab.write_text("\n".join([*exposures, *anchors, *copies]) + "\n")
    return fstab, checks


def _path_down(cover: Path, prefix: Path, hidden: Path) -> list[Path]:
    """The directories in `cover` from its top down to where `prefix` goes."""
    relative = prefix.relative_to(hidden)
    return [cover.joinpath(*relative.parts[: depth + 1]) for depth in range(len(relative.parts))]


def _line(source: Path, target: Path, options: str) -> str:
    return f"{fstab_field(source)} {fstab_field(target)} none {options} 0 0"


def fstab_field(path: Path) -> str:
    """A path as one fstab field: spaces, tabs, newlines and backslashes as octal escapes."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in str(path))
