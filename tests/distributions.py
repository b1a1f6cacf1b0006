"""Which distribution of the workspace a test belongs to, so that each one's tests can be
run on their own: `pytest -m turnout_serve` (or `python3 dev.py test -m turnout_serve`).

A plugin distribution lives in `plugins/<dir>/` and its tests in `tests/plugins/<dir>/`;
every other test is core's (`turnout`). The marker is the distribution's name with
underscores, as a pytest marker must be spelled.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_TESTS = ROOT / "tests" / "plugins"
CORE = "turnout"


def distribution_names() -> dict[str, str]:
    """Each distribution's name by the directory that holds it (`""` for core)."""
    names = {"": CORE}
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text("utf-8"))["project"]
        names[pyproject.parent.name] = project["name"]
    return names


def marker_name(distribution: str) -> str:
    """The pytest marker that selects a distribution's tests."""
    return distribution.replace("-", "_")


def distribution_of(test_file: Path, names: dict[str, str]) -> str:
    """The distribution the test in `test_file` tests, by where the file is."""
    try:
        parts = test_file.resolve().relative_to(PLUGIN_TESTS).parts
    except ValueError:
        return names[""]
    if len(parts) > 1 and parts[0] in names:
        return names[parts[0]]
    return names[""]
