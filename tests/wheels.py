"""Wheels of the workspace's distributions, built as a release would build them.

`build_wheel` runs the pinned uv of `python3 dev.py` (`.bootstrap/bin/uv build --wheel
--offline`): the build backend comes from uv's cache, so no network is needed on a
machine where `dev.py sync` has run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UV = ROOT / ".bootstrap" / "bin" / "uv"


def build_wheel(project: Path, out_dir: Path) -> Path:
    """Build the wheel of the distribution at `project` into `out_dir`; its path."""
    assert UV.exists(), f"{UV} is missing: run `python3 dev.py sync`"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(UV_PYTHON_DOWNLOADS="never", UV_PYTHON=sys.executable, UV_NO_PROGRESS="1")
    completed = subprocess.run(
        [str(UV), "build", "--wheel", "--offline", "--out-dir", str(out_dir), str(project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (wheel,) = out_dir.glob("*.whl")
    return wheel


def metadata(wheel: Path) -> dict[str, list[str]]:
    """The wheel's METADATA fields (each field's values, in order)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(name).decode())
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key, []).append(value)
    return fields


def unconditional_requirements(wheel: Path) -> set[str]:
    """The names of what installing the wheel always pulls in (no extra asked for)."""
    names = set()
    for requirement in metadata(wheel).get("Requires-Dist", []):
        name, _, marker = requirement.partition(";")
        if "extra ==" not in marker:
            names.add(_name(name))
    return names


def _name(requirement: str) -> str:
    """The normalized distribution name at the start of a requirement string."""
    for index, char in enumerate(requirement):
        if not (char.isalnum() or char in "-_."):
            requirement = requirement[:index]
            break
    return requirement.strip().lower().replace("_", "-")
