"""The chaos page: the properties first, outcomes by fault, latency, leaked sandboxes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from turnout_devtools.chaos.report import ChaosReport
from turnout_devtools.html.chaos import build_chaos_page, outcome_label

from turnout.reports.html.page import render_page

from ....reports.html.test_parity import spec_of
from .. import samples


@pytest.fixture(scope="module")
def report() -> ChaosReport:
    return samples.chaos_report()


def test_outcomes_are_counted_by_the_fault_each_execution_armed(report: ChaosReport) -> None:
    """Each bar row is a fault (or none) and each trace an outcome, with its counts."""
    data = spec_of(render_page(build_chaos_page(report.to_dict())), 1)["data"]
    rows = data[0]["y"]
    assert rows[0].startswith("no fault (n=")
    drop = rows.index("drop_stream (n=2)")
    during = next(t for t in data if t["name"] == "InfrastructureError (during the run)")
    assert during["x"][drop] == 2


def test_the_latency_histogram_holds_every_call(report: ChaosReport) -> None:
    """Every record's wall time is in the histogram, split by outcome."""
    data = spec_of(render_page(build_chaos_page(report.to_dict())), 2)["data"]
    assert sum(len(trace["x"]) for trace in data) == report.executions


def test_leaked_sandboxes_are_listed_and_fail_the_banner(report: ChaosReport) -> None:
    """A sandbox alive after the run is named, and the banner says properties failed."""
    leaky = replace(report, leaked_sandboxes=["sbx-<b>1</b>"])
    page = render_page(build_chaos_page(leaky.to_dict()))
    assert "Leaked sandboxes (1)" in page
    assert "sandbox sbx-&lt;b&gt;1&lt;/b&gt; still alive" in page
    assert 'class="banner fail"' in page


def test_a_clean_run_says_every_property_holds(report: ChaosReport) -> None:
    """No violation: a green banner and no leak."""
    page = render_page(build_chaos_page(report.to_dict()))
    assert 'class="banner ok"' in page
    assert "None: every sandbox was killed" in page


def test_a_record_of_another_version_keeps_its_outcome() -> None:
    """A record with fields this version does not know is labelled by its error type."""
    assert outcome_label({"outcome": "error", "error_type": "X", "new_field": 1}) == "X"
