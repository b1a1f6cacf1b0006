"""The rollout timeline: per-hour stage counters, latency and cost per backend, read in
the same pass as the rollout report."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from turnout.reports.timeline import LatencyCounts, RolloutTimeline, read_with_timeline
from turnout.rollout import read_report

from ..rollout.support import compared, executed, lines

HOUR_8 = "2026-01-10T08:15:00.000000Z"
HOUR_9 = "2026-01-10T09:45:00.000000Z"


def timeline_of(*events: dict[str, object], only: str | None = None) -> RolloutTimeline:
    timeline = RolloutTimeline(only=only)
    for line in lines(*events):
        timeline.add_line(line)
    return timeline


def test_events_are_counted_per_stage_and_utc_hour() -> None:
    """Each hour has its own counters, and its rates are the gates' rates over that hour."""
    timeline = timeline_of(
        compared("match", timestamp=HOUR_8),
        compared("mismatch", timestamp=HOUR_8, paths=("$.a",)),
        compared("match", timestamp=HOUR_9),
    )
    series = timeline.hourly("prod")["shadow"]
    assert [hour for hour, _ in series] == [
        datetime(2026, 1, 10, 8, tzinfo=UTC),
        datetime(2026, 1, 10, 9, tzinfo=UTC),
    ]
    assert [stats.mismatch_rate for _, stats in series] == [0.5, 0.0]


def test_an_event_without_a_timestamp_is_in_no_hour() -> None:
    """An undated event is counted as such, not placed in an hour."""
    event = compared("match")
    del event["timestamp"]
    timeline = timeline_of(event)
    assert timeline.undated == 1
    assert timeline.hourly("prod") == {}


def test_latency_is_kept_per_backend_with_exact_quantiles() -> None:
    """Durations are counted per whole millisecond, so quantiles are exact."""
    timeline = timeline_of(
        *(executed("e2b", "shadow", duration_ms=ms) for ms in (100, 200, 300, 400)),
        executed("local-subprocess", duration_ms=30),
    )
    e2b = timeline.latency["prod"]["e2b"]
    assert (e2b.runs, e2b.quantile(0.5), e2b.quantile(0.95)) == (4, 200, 400)
    assert timeline.latency["prod"]["local-subprocess"].quantile(1.0) == 30


def test_a_duration_that_is_not_a_number_is_left_out() -> None:
    """A missing, negative or non-numeric duration adds no latency sample."""
    timeline = timeline_of(
        executed(duration_ms="slow"), executed(duration_ms=-5), executed(duration_ms=True)
    )
    assert timeline.latency == {}


def test_costs_are_summed_per_backend_and_shadow_apart() -> None:
    """Usage adds to its backend's total, and shadow runs' usage to its shadow sum too."""
    usage = {"sandboxSeconds": 2.0, "costUsd": 0.5}
    timeline = timeline_of(
        executed("e2b", "shadow", usage=usage),
        executed("e2b", "authoritative", stage="live", usage=usage),
        executed("local-subprocess"),
    )
    costs = timeline.costs["prod"]
    assert list(costs) == ["e2b"]
    assert (costs["e2b"].total.cost_usd, costs["e2b"].shadow.cost_usd) == (1.0, 0.5)


def test_only_the_chosen_environment_is_counted() -> None:
    """With an environment chosen, others are left out, as the report leaves them out."""
    timeline = timeline_of(executed(), executed(environment="staging"), only="staging")
    assert list(timeline.hours) == ["staging"]


def test_the_report_read_with_the_timeline_is_the_plain_report(tmp_path: Path) -> None:
    """One pass gives the same report as `read_report` and a timeline of the same lines."""
    log = tmp_path / "turnout.log"
    log.write_text("".join(lines(executed(), compared(), executed("e2b", "shadow"))) + "junk\n")
    report, timeline = read_with_timeline(log)
    assert report.to_dict() == read_report(log).to_dict()
    assert sum(s.executions for _, s in timeline.hourly("prod")["shadow"]) == 1


def test_stdin_is_read_once_for_both(monkeypatch: pytest.MonkeyPatch) -> None:
    """From `-`, the report and the timeline both see every line of the one stream."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(lines(executed(), executed()))))
    report, timeline = read_with_timeline("-")
    assert report.events == 2
    assert timeline.latency["prod"]["local-subprocess"].runs == 2


def test_an_empty_count_has_no_quantile() -> None:
    """Nothing counted, no quantile."""
    assert LatencyCounts().quantile(0.5) is None
