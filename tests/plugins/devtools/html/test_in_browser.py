"""The bench and chaos pages opened in headless Chromium: their charts drawn, no console
error, no network request, and a full-page screenshot kept under reports/screenshots/
(gitignored), like every other report (tests/reports/html/test_in_browser.py).

The data: the recorded bench run, a chaos report over the real seeded plan
(tests/plugins/devtools/samples.py).
"""

from __future__ import annotations

import pytest
from turnout_devtools.html.bench import write_bench_html
from turnout_devtools.html.chaos import write_chaos_html

from ....reports.browser import Opened, ReportBrowser, assert_drawn_cleanly
from ....reports.samples import ROOT
from .. import samples

SCREENSHOTS = ROOT / "reports" / "screenshots"


@pytest.fixture(scope="module")
def opened(
    tmp_path_factory: pytest.TempPathFactory, report_browser: ReportBrowser
) -> dict[str, Opened]:
    """Each page written, then opened once; the tests read what the browser showed."""
    directory = tmp_path_factory.mktemp("pages")
    pages = {
        "bench": write_bench_html(samples.bench_report(), directory / "bench.html"),
        "chaos": write_chaos_html(samples.chaos_report().to_dict(), directory / "chaos.html"),
    }
    return {
        name: report_browser.open(path, SCREENSHOTS / f"{name}.png") for name, path in pages.items()
    }


@pytest.mark.parametrize("name", ["bench", "chaos"])
def test_the_report_draws_every_chart_without_errors_or_network(
    opened: dict[str, Opened], name: str
) -> None:
    """The page draws each of its charts, logs no console error and asks for nothing on
    the network (everything it needs is inlined)."""
    assert_drawn_cleanly(opened[name], SCREENSHOTS / f"{name}.png")
