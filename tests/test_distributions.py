"""Each distribution's tests can be selected and run on their own (tests/distributions.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.distributions import (
    CORE,
    PLUGIN_TESTS,
    ROOT,
    distribution_names,
    distribution_of,
    marker_name,
)


class TestDistributionOf:
    def test_a_plugins_test_belongs_to_that_plugins_distribution(self) -> None:
        """A test under tests/plugins/<dir>/ is a test of plugins/<dir>'s distribution."""
        names = distribution_names()
        path = PLUGIN_TESTS / "serve" / "test_app.py"
        assert distribution_of(path, names) == "turnout-serve"

    def test_every_other_test_is_cores(self) -> None:
        """A test outside tests/plugins/ is a test of turnout's core."""
        names = distribution_names()
        assert distribution_of(ROOT / "tests" / "flags" / "test_schema.py", names) == CORE

    def test_the_marker_is_the_name_spelled_as_pytest_allows(self) -> None:
        """A distribution's marker is its name with underscores for hyphens."""
        assert marker_name("turnout-e2b-server") == "turnout_e2b_server"


def test_every_distribution_has_its_own_test_directory() -> None:
    """Each plugin distribution of the workspace has tests/plugins/<its dir>/, so that its
    marker selects something."""
    directories = {name for name in distribution_names() if name}
    missing = sorted(d for d in directories if not (PLUGIN_TESTS / d).is_dir())
    assert directories
    assert not missing, f"add tests/plugins/<dir>/ for the distributions in plugins/{missing}"


def test_this_test_carries_cores_marker(request: pytest.FixtureRequest) -> None:
    """The collection hook marked this core test `turnout` and nothing else."""
    markers = {marker.name for marker in request.node.iter_markers()}
    names = {marker_name(name) for name in distribution_names().values()}
    assert markers & names == {CORE}


def _imported_test_packages(path: Path) -> set[str]:
    """The `tests.plugins.<dir>` packages a test module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        modules = []
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        for module in modules:
            parts = module.split(".")
            if parts[:2] == ["tests", "plugins"] and len(parts) > 2:
                found.add(parts[2])
    return found


def test_no_distributions_tests_import_another_distributions_tests() -> None:
    """A distribution's tests import no other distribution's test modules (core's tests none
    of a plugin's), so each directory runs on its own."""
    crossings = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        parts = path.relative_to(PLUGIN_TESTS).parts if path.is_relative_to(PLUGIN_TESTS) else ()
        own = parts[0] if len(parts) > 1 else None
        crossings += [
            f"{path.relative_to(ROOT)} imports tests.plugins.{other}"
            for other in _imported_test_packages(path)
            if other != own
        ]
    assert not crossings, crossings
