"""Tests for turnout.plugin_loading: installed distributions whose metadata is broken cost
their own plugin at most, never the discovery of the others."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.registry import DISABLED_PLUGINS_VARIABLE, Distribution, discover

from .plugin_site import PluginSite

# The real plugins are kept out, so each test proves the loader and not the venv.
NO_INSTALLED = [entry.name for entry in importlib.metadata.entry_points(group="turnout")]

GOOD_PLUGIN = """
from turnout.hookspecs import hookimpl

class Steady:
    id = "steady"
    deprecated = False
    description = "a throwaway backend"

    def __init__(self, settings):
        self.settings = settings

@hookimpl
def turnout_register_backends(registry):
    registry.add(Steady)
"""

MALFORMED_ENTRY_POINTS = b"[turnout]\nthis line has no equals sign\n"


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """A directory on sys.path into which throwaway distributions are installed for real."""
    monkeypatch.delenv(DISABLED_PLUGINS_VARIABLE, raising=False)
    installed = PluginSite(tmp_path / "site", monkeypatch)
    installed.install("good", GOOD_PLUGIN)
    yield installed
    installed.remove_modules()


def metadata(name: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n".encode()


class TestBrokenMetadata:
    def test_malformed_entry_points_file_is_an_issue_naming_its_distribution(
        self, site: PluginSite
    ) -> None:
        """An entry_points.txt with a turnout section that does not parse leaves that
        distribution out as an error naming it, and the healthy plugin still registers."""
        site.install_metadata(
            "malformed-0.3.dist-info",
            {"METADATA": metadata("malformed"), "entry_points.txt": MALFORMED_ENTRY_POINTS},
        )
        found = discover(disabled=NO_INSTALLED)
        assert found.ids == ["steady"]
        [issue] = found.issues
        assert (issue.plugin, issue.distribution, issue.left_out) == (
            "malformed",
            Distribution("malformed", "0.3"),
            True,
        )
        assert "entry_points.txt, which has a [turnout] section, does not parse" in issue.message

    def test_malformed_entry_points_file_is_disabled_by_its_distribution_name(
        self, site: PluginSite
    ) -> None:
        """The issue's hint works: disabling the distribution's name silences it."""
        site.install_metadata(
            "malformed-0.3.dist-info",
            {"METADATA": metadata("malformed"), "entry_points.txt": MALFORMED_ENTRY_POINTS},
        )
        found = discover(disabled=[*NO_INSTALLED, "malformed"])
        assert (found.ids, found.issues) == (["steady"], [])

    def test_malformed_entry_points_file_of_another_tool_is_ignored(self, site: PluginSite) -> None:
        """A distribution with no turnout section is none of turnout's business: its broken
        entry_points.txt is no issue and stops nothing."""
        site.install_metadata(
            "other-0.3.dist-info",
            {"METADATA": metadata("other"), "entry_points.txt": b"[console_scripts]\nbroken\n"},
        )
        found = discover(disabled=NO_INSTALLED)
        assert (found.ids, found.issues) == (["steady"], [])

    def test_undecodable_metadata_of_another_distribution_is_ignored(
        self, site: PluginSite
    ) -> None:
        """Metadata that is not UTF-8, in a distribution declaring no turnout plugin, stops
        nothing."""
        site.install_metadata(
            "binary-0.3.dist-info",
            {
                "METADATA": b"Metadata-Version: 2.1\nName: binary\xff\nVersion: 0.3\n",
                "entry_points.txt": b"[console_scripts]\nx = y\n",
            },
        )
        found = discover(disabled=NO_INSTALLED)
        assert (found.ids, found.issues) == (["steady"], [])

    def test_plugin_without_metadata_loads_and_says_its_distribution_has_no_name(
        self, site: PluginSite
    ) -> None:
        """A plugin whose dist-info has no METADATA still registers; its distribution is
        reported as having no name and version, as strings."""
        (site.root / "nameless_plugin.py").write_text(
            GOOD_PLUGIN.replace("steady", "nameless"), encoding="utf-8"
        )
        site.modules.append("nameless_plugin")
        entry_points = b"[turnout]\nnameless = nameless_plugin\n"
        site.install_metadata("nameless-0.3.dist-info", {"entry_points.txt": entry_points})
        found = discover(disabled=NO_INSTALLED)
        assert found.ids == ["nameless", "steady"]
        assert found.distribution_of("nameless") == Distribution("(no name)", "(no version)")

    def test_plugin_with_undecodable_metadata_loads(self, site: PluginSite) -> None:
        """A plugin whose METADATA is not UTF-8 still registers, its distribution said
        unreadable."""
        (site.root / "binary_plugin.py").write_text(
            GOOD_PLUGIN.replace("steady", "binary"), encoding="utf-8"
        )
        site.modules.append("binary_plugin")
        site.install_metadata(
            "binary-0.3.dist-info",
            {
                "METADATA": b"Metadata-Version: 2.1\nName: binary\xff\nVersion: 0.3\n",
                "entry_points.txt": b"[turnout]\nbinary = binary_plugin\n",
            },
        )
        found = discover(disabled=NO_INSTALLED)
        assert found.ids == ["binary", "steady"]
        assert found.distribution_of("binary") == Distribution("(unreadable metadata)", "?")
