"""Sections plugins add to `turnout bench`: run and judged like the built-in ones, and a
broken or clashing plugin costs only its own sections."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from turnout_devtools.bench import SECTIONS, available_sections, run_bench

from turnout.registry import default_registry

from ....plugin_site import PluginSite, process_site

MEASURING = """
from turnout_devtools.bench.catalog import BenchSection
from turnout_devtools.bench.sections import SectionResult
from turnout_devtools.bench.stats import Bound
from turnout.hookspecs import hookimpl

async def echo(context):
    return SectionResult(
        {"iterations": context.iterations},
        [Bound("echo is echoed", "", 1.0, 1.0, at_most=True)],
    )

@hookimpl
def turnout_bench_sections():
    return [BenchSection("plugin-echo", echo)]
"""

BROKEN = """
from turnout.hookspecs import hookimpl

@hookimpl
def turnout_bench_sections():
    raise RuntimeError("sections broke")
"""

CLASHING = """
from turnout_devtools.bench.catalog import BenchSection
from turnout.hookspecs import hookimpl

async def fake_startup(context):
    raise AssertionError("never run")

@hookimpl
def turnout_bench_sections():
    return [BenchSection("startup", fake_startup)]
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """Throwaway plugins installed for real next to the real ones, seen by the bench."""
    with process_site(tmp_path / "site", monkeypatch) as installed:
        yield installed


def test_a_plugins_section_runs_after_the_built_in_ones(site: PluginSite) -> None:
    """A section a plugin returns is listed after every built-in one (beside those the
    installed plugins add)."""
    before = list(available_sections())
    site.install("bench-echo", MEASURING)
    default_registry.cache_clear()
    names = list(available_sections())
    assert names[: len(SECTIONS)] == list(SECTIONS)
    assert sorted(names[len(SECTIONS) :]) == sorted([*before[len(SECTIONS) :], "plugin-echo"])


def test_a_plugins_section_is_measured_and_judged_in_the_report(site: PluginSite) -> None:
    """`run_bench(only=[...])` runs the plugin's section with the run's context and reports
    its figures and its bound under its own name."""
    site.install("bench-echo", MEASURING)
    report = run_bench(only=["plugin-echo"], iterations=3)
    assert report["sections"]["plugin-echo"]["figures"] == {"iterations": 3}
    [bound] = report["bounds"]
    assert (bound["section"], bound["met"]) == ("plugin-echo", True)


def test_a_failing_hook_costs_only_its_sections(site: PluginSite) -> None:
    """A plugin whose hook raises adds nothing, is reported with the cause, and the
    built-in sections (and the installed plugins') are all still there."""
    before = list(available_sections())
    site.install("bench-broken", BROKEN)
    default_registry.cache_clear()
    assert list(available_sections()) == before
    [issue] = [issue for issue in default_registry().issues if issue.plugin == "bench-broken"]
    assert "failed in turnout_bench_sections: RuntimeError: sections broke" in issue.message


def test_a_section_name_already_taken_is_refused(site: PluginSite) -> None:
    """A plugin reusing a built-in section's name cannot replace it: the built-in one stays
    and the plugin is reported as clashing."""
    site.install("bench-clash", CLASHING)
    sections = available_sections()
    assert sections["startup"] == SECTIONS["startup"]
    [issue] = [issue for issue in default_registry().issues if issue.plugin == "bench-clash"]
    assert "already defined: startup" in issue.message
