"""The rollout page: gates first, rates per hour against their limits, latency and cost
per backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.reports.html.page import render_page
from turnout.reports.html.rollout import build_rollout_page
from turnout.reports.timeline import RolloutTimeline, read_with_timeline
from turnout.rollout import build_report

from ...rollout.support import executed, lines
from .. import samples
from .test_parity import spec_of


@pytest.fixture(scope="module")
def migration(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The page of a shadow-then-live migration whose live stage falls back too often."""
    log = samples.rollout_log(tmp_path_factory.mktemp("log") / "turnout.log")
    return render_page(build_rollout_page(*read_with_timeline(log)))


def test_a_gate_not_met_is_the_headline(migration: str) -> None:
    """The banner says which gate is not met and which checks fail it."""
    banner = migration.split('id="verdict"')[1].split("</section>")[0]
    assert "1 of 2 gates not met" in banner
    assert "prod/live" in banner
    assert "fallback rate" in banner


def test_each_rate_per_hour_is_drawn_against_its_gate(migration: str) -> None:
    """The hourly chart has a panel per gated rate, each with its limit as a line."""
    spec = spec_of(migration, 1)
    titles = [a["text"] for a in spec["layout"]["annotations"]]
    assert "fallback rate (gate ≤ 1%)" in titles
    assert "mismatch rate (gate ≤ 0.1%)" in titles
    limits = sorted(s["y0"] for s in spec["layout"]["shapes"])
    assert limits == [0.001, 0.01, 0.01, 0.01]


def test_latency_and_cost_are_shown_per_backend(migration: str) -> None:
    """One latency box per backend, and the cost of e2b's runs, shadow runs apart."""
    latency = spec_of(migration, 2)["data"]
    assert sorted(box["name"] for box in latency) == ["e2b", "local-subprocess"]
    cost = spec_of(migration, 3)["data"]
    assert [bar["name"] for bar in cost] == ["served runs", "shadow runs"]
    assert cost[0]["y"] == ["e2b"]


def test_a_log_without_timestamps_renders_without_hourly_charts() -> None:
    """Events without a timestamp still give the gates and tables, and say why no hours."""
    event = executed()
    del event["timestamp"]
    timeline = RolloutTimeline()
    for line in lines(event):
        timeline.add_line(line)
    page = render_page(build_rollout_page(build_report(lines(event)), timeline))
    assert "No timestamped events" in page
    assert "1 events had no readable timestamp" in page


def test_the_page_is_written_where_asked(tmp_path: Path) -> None:
    """`write_rollout_html` creates the file's directory and writes one page."""
    from turnout.reports.html.rollout import write_rollout_html

    path = write_rollout_html(build_report([]), RolloutTimeline(), tmp_path / "a" / "b.html")
    assert "No gate decided by the logs" in path.read_text(encoding="utf-8")
