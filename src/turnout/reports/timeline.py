"""What a rollout log shows over time and per backend, for the rollout page's charts.

`RolloutReport` answers "is the gate met" with one set of counters per environment and
stage; a person deciding also wants to see *when* mismatches or errors happened (one bad
hour, or a steady rate?) and what each backend's runs took and cost. `RolloutTimeline`
counts the same events a second way: the same `StageStats` per environment, stage and
UTC hour (so every rate is computed exactly as the gates compute it), run latencies per
environment and backend (a count per whole millisecond, the unit the engine logs, so
memory stays bounded on a day of logs), and usage per backend. `read_with_timeline`
reads a log once and builds both.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from turnout.log_events import CodeNodeExecuted, FlagsReloaded, LoggedEvent
from turnout.rollout.costs import CostSum, read_usage
from turnout.rollout.events import open_log, parse_line
from turnout.rollout.gates import Thresholds
from turnout.rollout.report import RolloutReport, build_report
from turnout.rollout.stats import DIRECT, StageStats

__all__ = ["BackendCosts", "LatencyCounts", "RolloutTimeline", "read_with_timeline"]


@dataclass
class LatencyCounts:
    """How many runs took each whole number of milliseconds."""

    counts: Counter[int] = field(default_factory=Counter)

    def add(self, milliseconds: float) -> None:
        self.counts[max(0, round(milliseconds))] += 1

    @property
    def runs(self) -> int:
        return sum(self.counts.values())

    def quantile(self, fraction: float) -> int | None:
        """The nearest-rank quantile in ms (None when nothing was counted)."""
        total = self.runs
        if not total:
            return None
        rank = max(1, math.ceil(fraction * total))
        seen = 0
        for milliseconds in sorted(self.counts):
            seen += self.counts[milliseconds]
            if seen >= rank:
                return milliseconds
        return max(self.counts)


@dataclass
class BackendCosts:
    """Usage of one backend's runs: all of them, and the shadow runs among them."""

    total: CostSum = field(default_factory=CostSum)
    shadow: CostSum = field(default_factory=CostSum)


@dataclass
class RolloutTimeline:
    """Per-hour stage counters, latencies and costs per backend (module docstring)."""

    only: str | None = None
    hours: dict[str, dict[str, dict[datetime, StageStats]]] = field(default_factory=dict)
    latency: dict[str, dict[str, LatencyCounts]] = field(default_factory=dict)
    costs: dict[str, dict[str, BackendCosts]] = field(default_factory=dict)
    undated: int = 0
    """Events counted by the report but without a readable timestamp (in no hour)."""

    def add_line(self, line: str) -> None:
        """Count one log line (the lines `RolloutReport.add_line` counts, no others)."""
        logged = parse_line(line)
        if logged is None or isinstance(logged.event, FlagsReloaded):
            return
        if self.only is not None and logged.event.environment != self.only:
            return
        self.add_event(logged)

    def add_event(self, logged: LoggedEvent) -> None:
        event = logged.event
        if isinstance(event, FlagsReloaded):
            return
        environment = event.environment
        key = event.decision.stage if event.decision is not None else DIRECT
        moment = logged.timestamp
        if moment is None:
            self.undated += 1
        else:
            hour = moment.replace(minute=0, second=0, microsecond=0)
            stages = self.hours.setdefault(environment, {}).setdefault(key, {})
            stats = stages.get(hour)
            if stats is None:
                stats = stages[hour] = StageStats(environment, key)
            stats.add(logged)
        if isinstance(event, CodeNodeExecuted):
            self._add_run(environment, event)

    def _add_run(self, environment: str, event: CodeNodeExecuted) -> None:
        backend = event.backend
        duration = _duration(event.duration_ms)
        if duration is not None:
            per_backend = self.latency.setdefault(environment, {})
            per_backend.setdefault(backend, LatencyCounts()).add(duration)
        usage = read_usage(event)
        if usage is not None:
            costs = self.costs.setdefault(environment, {}).setdefault(backend, BackendCosts())
            costs.total.add(usage)
            if event.role == "shadow":
                costs.shadow.add(usage)

    def hourly(self, environment: str) -> dict[str, list[tuple[datetime, StageStats]]]:
        """Per stage, its hours in time order."""
        return {
            stage: sorted(hours.items())
            for stage, hours in sorted(self.hours.get(environment, {}).items())
        }


def _duration(value: int | None) -> float | None:
    """A logged duration in ms, or None when it is missing or negative."""
    return float(value) if value is not None and value >= 0 else None


def _teed(lines: Iterable[str], timeline: RolloutTimeline) -> Iterator[str]:
    for line in lines:
        timeline.add_line(line)
        yield line


def read_with_timeline(
    path: str | Path,
    *,
    environment: str | None = None,
    thresholds: Thresholds | None = None,
    merge_configurations: bool = False,
) -> tuple[RolloutReport, RolloutTimeline]:
    """`read_report`'s report and the timeline of the same lines, in one pass over the
    log (stdin can be read once only); raises OSError or EOFError if unreadable."""
    source = "<stdin>" if str(path) == "-" else str(path)
    timeline = RolloutTimeline(only=environment)
    with open_log(path) as stream:
        report = build_report(
            _teed(stream, timeline),
            source=source,
            environment=environment,
            thresholds=thresholds,
            merge_configurations=merge_configurations,
        )
    return report, timeline
