"""The private mount table of one execution, written as an fstab for one `mount -a`.

Inside the execution's mount namespace (`isolation`), before the program starts:

1. Exposures (`identity.Exposure`): the interpreter's prefix is bind-mounted onto a
   staging directory; an empty tmpfs is mounted on a cover directory and that is bound
   over the directory the program's identity cannot search (/root); then the staged
   prefix is bound back, read-only, at its own path inside the tmpfs (the missing
   directories made by `X-mount.mkdir`). The hidden directory's other contents are gone
   from view; the interpreter works unchanged.
2. Anchors: the workspace lies under a covered directory (normally /tmp), and covering
   that directory would hide it; so the workspace is first bound recursively onto its own
   path inside the private copy. Inside the namespace every path of the workspace (cwd,
   HOME, the program file, Node's `__filename`) resolves as outside.
3. Scratch copies: each covered directory (/tmp, /var/tmp, /dev/shm, /run/lock, and the
   directory holding the workspace) gets an empty, world-writable, sticky private copy,
   bound recursively over it.

Staging and cover directories live in the workspace's `scratch/` (mode 700, root's), out of
the program's reach. Each mount's source is unique to the execution, so `mount -a` never
skips one as "already mounted"; the init also checks, with `test -ef`, that every covered
path and every exposed prefix is what was mounted there (`plan` returns those pairs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from turnout_local_subprocess.identity import Exposure
from turnout_local_subprocess.workdir import Workspace

__all__ = ["TMPFS_OPTIONS", "fstab_field", "plan"]

TMPFS_OPTIONS = "mode=0755,size=1m,nosuid,nodev,noexec"


def plan(
    workspace: Workspace, scratch: Sequence[Path], exposures: Sequence[Exposure] = ()
) -> tuple[Path | None, list[str]]:
    """Create the directories and the fstab; return its path and the (path, source) checks."""
    targets = list(scratch)
    if scratch and not any(workspace.root.is_relative_to(target) for target in targets):
        targets.append(workspace.root.parent)  # a TMPDIR outside the usual places
    if not targets and not exposures:
        return None, []
    base = workspace.root / "scratch"
    base.mkdir(mode=0o700)
    lines: list[str] = []
    checks: list[str] = []
    _expose(base, exposures, lines, checks)
    copies: list[str] = []
    for target in targets:
        source = base / "-".join(target.parts[1:])
        source.mkdir()
        os.chmod(source, 0o1777)
        if workspace.root.is_relative_to(target):
            anchor = source / workspace.root.relative_to(target)
            anchor.mkdir(parents=True)
            lines.append(_line(workspace.root, anchor, "none", "rbind"))
        copies.append(_line(source, target, "none", "rbind"))
        checks += [str(target), str(source)]
    fstab = workspace.control / "fstab"
    fstab.write_text("\n".join([*lines, *copies]) + "\n")
    return fstab, checks


def _expose(base: Path, exposures: Sequence[Exposure], lines: list[str], checks: list[str]) -> None:
    """Append the mounts of every exposure (all staged before any cover) and their checks."""
    staged: list[tuple[Exposure, Path]] = []
    for index, exposure in enumerate(exposures):
        stage = base / f"expose-{index}"
        stage.mkdir()
        lines.append(_line(exposure.prefix, stage, "none", "bind"))
        staged.append((exposure, stage))
    for index, hidden in enumerate(dict.fromkeys(exposure.hidden for exposure in exposures)):
        cover = base / f"cover-{index}"
        cover.mkdir()
        source = f"turnout-cover-{base.parent.name}-{index}"
        lines.append(f"{source} {fstab_field(cover)} tmpfs {TMPFS_OPTIONS} 0 0")
        lines.append(_line(cover, hidden, "none", "bind"))
        checks += [str(hidden), str(cover)]
    for exposure, stage in staged:
        lines.append(_line(stage, exposure.prefix, "none", "bind,ro,nosuid,nodev,X-mount.mkdir"))
        checks += [str(exposure.prefix), str(stage)]


def _line(source: Path, target: Path, kind: str, options: str) -> str:
    return f"{fstab_field(source)} {fstab_field(target)} {kind} {options} 0 0"


def fstab_field(path: Path) -> str:
    """A path as one fstab field: spaces, tabs, newlines and backslashes as octal escapes."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in str(path))
