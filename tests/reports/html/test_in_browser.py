"""Every HTML report opened in headless Chromium: its charts drawn, no console error, no
network request, and a full-page screenshot kept under reports/screenshots/ (gitignored).

The data comes from the real code paths where that is cheap (tests/reports/samples.py): a
conformance run on local-subprocess, a rollout report read from a JSON log. (The bench and
chaos pages, the developer tools', are opened by tests/plugins/devtools/html.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.reports.html.parity import write_parity_html
from turnout.reports.html.rollout import write_rollout_html
from turnout.reports.timeline import read_with_timeline

from .. import samples
from ..browser import Opened, ReportBrowser, assert_drawn_cleanly

SCREENSHOTS = samples.ROOT / "reports" / "screenshots"


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each report written once for the module, before the browser starts."""
    directory = tmp_path_factory.mktemp("pages")
    parity = samples.conformance_report(
        ("config.empty-code", "errors.syntax", "isolation.network-blocked")
    )
    report, timeline = read_with_timeline(samples.rollout_log(directory / "turnout.log"))
    return {
        "parity": write_parity_html(parity, directory / "parity"),
        "hostile": write_parity_html(samples.hostile_report(), directory / "hostile"),
        "rollout": write_rollout_html(report, timeline, directory / "rollout.html"),
    }


@pytest.fixture(scope="module")
def opened(pages: dict[str, Path], report_browser: ReportBrowser) -> dict[str, Opened]:
    """Each page opened once; the tests read what the browser showed."""
    return {
        name: report_browser.open(path, SCREENSHOTS / f"{name}.png") for name, path in pages.items()
    }


@pytest.mark.parametrize("name", ["parity", "hostile", "rollout"])
def test_the_report_draws_every_chart_without_errors_or_network(
    opened: dict[str, Opened], name: str
) -> None:
    """The page draws each of its charts, logs no console error and asks for nothing on
    the network (everything it needs is inlined)."""
    assert_drawn_cleanly(opened[name], SCREENSHOTS / f"{name}.png")


def test_markup_in_case_ids_and_messages_is_shown_not_run(opened: dict[str, Opened]) -> None:
    """A `<script>` in a case id, a theme and an error message is shown as text, in the
    tables and in the chart labels, and never runs."""
    page = opened["hostile"]
    assert page.page.evaluate("typeof window.__pwned") == "undefined"
    assert samples.HOSTILE in page.text
    labels = page.page.locator("[data-chart] svg").all_text_contents()
    assert any(samples.HOSTILE in text for text in labels)


def test_the_case_filters_keep_only_the_matching_rows(opened: dict[str, Opened]) -> None:
    """Choosing a status keeps only the cases with that status, and says how many."""
    page = opened["hostile"].page
    page.select_option("select[data-filter-attribute=data-statuses]", "error")
    visible = page.locator("#cases tbody tr:visible")
    assert visible.count() == 1
    assert "timeouts.hang" in visible.inner_text()
    assert page.inner_text("form.filters .count") == "1 of 5 shown"


def test_the_verdict_comes_first(opened: dict[str, Opened]) -> None:
    """The verdict banner is the first thing under the title."""
    page = opened["hostile"].page
    first = page.locator("main > :nth-child(2)")
    assert first.get_attribute("id") == "verdict"
    assert "cannot be deleted yet" in first.inner_text()
