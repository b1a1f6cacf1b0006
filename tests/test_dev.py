"""dev.py's job selects what it runs correctly."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import DESELECTED

ROOT = Path(__file__).resolve().parents[1]


def dev_script() -> ModuleType:
    """dev.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_timing_pass_reads_every_file_with_a_timing_test(
    request: pytest.FixtureRequest,
) -> None:
    """Every test this session collected that is marked `timing` (the job's parallel phase
    collects them all and leaves them out) lives in a file the timing pass reads."""
    collected = [*request.session.items, *request.config.stash.get(DESELECTED, [])]
    marked = {item.nodeid.split("::")[0] for item in collected if item.get_closest_marker("timing")}
    assert marked - set(dev_script().timing_files()) == set()


def test_the_timing_files_are_the_ones_that_mark_tests() -> None:
    """The list holds the files known to mark timing tests, and only test files."""
    files = dev_script().timing_files()
    assert "tests/conformance/test_third_party.py" in files
    assert all(name.startswith("tests/") and name.endswith(".py") for name in files)
