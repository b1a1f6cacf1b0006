"""The bench page: each bound with its ratio and sample size, distributions side by side."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from turnout_devtools.html.bench import build_bench_page, sample_size

from turnout.reports.html.page import render_page

from ....reports.html.test_parity import spec_of
from .. import samples


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    return samples.bench_report()


def bound(report: dict[str, Any], name_part: str) -> dict[str, Any]:
    [found] = [b for b in report["bounds"] if name_part in b["name"]]
    return found


@pytest.mark.parametrize(
    ("name_part", "expected"),
    [
        ("local-subprocess python overhead", "n=60 per side"),
        ("raw SDK, create delay 150 ms", "n=20 per side"),
        ("raw SDK, create delay 0 ms", "n=20 per side"),
        ("warm pool", "n=30 per side"),
        ("concurrency 4 vs", "3 phases of 16 executions per side"),
        ("e2b 10 MB out", "n=3 per side"),
        ("RSS growth over 1000", "1000 executions"),
    ],
)
def test_each_bound_names_the_sample_it_stands_on(
    recorded: dict[str, Any], name_part: str, expected: str
) -> None:
    """The sample size comes from the bound's own group of figures in its section."""
    found = bound(recorded, name_part)
    assert sample_size(found, recorded["sections"][found["section"]]) == expected


def test_a_missed_bound_is_the_headline(recorded: dict[str, Any]) -> None:
    """A missed bound turns the banner red and is named in it with its value and limit."""
    report = copy.deepcopy(recorded)
    missed = bound(report, "warm pool")
    missed.update(value=0.52, met=False)
    page = render_page(build_bench_page(report))
    banner = page.split('id="verdict"')[1].split("</section>")[0]
    assert "1 of 14 bounds missed" in banner
    assert "0.520x &lt;= 0.4" in banner


def test_each_ratio_is_drawn_against_its_bound(recorded: dict[str, Any]) -> None:
    """The bounds chart has the limits and the measured ratios of every `x` bound."""
    data = spec_of(render_page(build_bench_page(recorded)), 1)["data"]
    limits, values = data
    ratios = [b for b in recorded["bounds"] if b["unit"] == "x"]
    assert limits["x"] == [b["limit"] for b in ratios]
    assert values["x"] == [b["value"] for b in ratios]


def test_a_section_draws_each_side_of_its_comparison(recorded: dict[str, Any]) -> None:
    """local-python shows turnout and the raw baseline, median to p95 and full range."""
    page = render_page(build_bench_page(recorded))
    sections = list(recorded["sections"])
    chart = spec_of(page, 2 + sections.index("local-python"))["data"]
    assert chart[1]["y"] == ["turnout_ms (n=60)", "raw_ms (n=60)"]
    assert chart[1]["base"] == [30.182, 30.833]


def test_a_skipped_section_says_why(recorded: dict[str, Any]) -> None:
    """A section that did not run is listed with its reason, not drawn."""
    report = copy.deepcopy(recorded)
    report["sections"]["pool"] = {"duration_s": 0, "skipped": "no E2B server", "figures": {}}
    assert "skipped: no E2B server" in render_page(build_bench_page(report))
