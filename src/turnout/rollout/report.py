"""`turnout rollout report`: read a log, count per environment and stage, evaluate the gates.

`build_report(lines)` does the work on any iterable of lines (a file, stdin, a list in a
test); `read_report(path)` opens a file (or `-`). The result is a `RolloutReport`, whose
`to_dict()` is the command's `--json` output. Counting is one pass that keeps counters
only (per environment, stage, backend and mismatch path), never the events, so a day of
production logs is fine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turnout.flags.stages import STAGES
from turnout.rollout.costs import EnvironmentCosts
from turnout.rollout.events import open_log, parse_line
from turnout.rollout.gates import Gate, Thresholds, evaluate_gate
from turnout.rollout.stats import DIRECT, StageStats

__all__ = ["RolloutReport", "build_report", "read_report"]

_STAGE_ORDER = {stage: index for index, stage in enumerate((*STAGES, DIRECT))}


@dataclass
class RolloutReport:
    """Counters per environment and stage, and the thresholds their gates are judged by.

    `lines` is every line read, `events` those counted, `skipped` the others (not JSON, or
    not an event the report reads); events of environments left out by `only` are neither.
    `costs` sums the usage runs reported, per environment (see `turnout.rollout.costs`).
    """

    source: str
    thresholds: Thresholds = field(default_factory=Thresholds)
    only: str | None = None
    lines: int = 0
    events: int = 0
    skipped: int = 0
    environments: dict[str, dict[str, StageStats]] = field(default_factory=dict)
    costs: dict[str, EnvironmentCosts] = field(default_factory=dict)

    def add_line(self, line: str) -> None:
        """Count one log line."""
        self.lines += 1
        event = parse_line(line)
        if event is None:
            self.skipped += 1
            return
        environment = event["environment"]
        if self.only is not None and environment != self.only:
            return
        self.events += 1
        stage = event.get("stage")
        key = stage if isinstance(stage, str) else DIRECT
        stages = self.environments.setdefault(environment, {})
        stats = stages.get(key)
        if stats is None:
            stats = stages[key] = StageStats(environment, key)
        stats.add(event)
        if event["event"] == "code_node_executed":
            costs = self.costs.get(environment) or EnvironmentCosts()
            if costs.add(event):
                self.costs[environment] = costs

    def stages(self, environment: str) -> list[StageStats]:
        """The environment's stages in the order of advancement (`direct` runs last)."""
        found = self.environments.get(environment, {})
        return sorted(found.values(), key=lambda s: (_STAGE_ORDER.get(s.stage, 99), s.stage))

    def gate(self, stats: StageStats) -> Gate:
        """The gate to leave that stage, under this report's thresholds."""
        return evaluate_gate(stats, self.thresholds)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "environment": self.only,
            "lines": self.lines,
            "events": self.events,
            "skipped": self.skipped,
            "thresholds": self.thresholds.to_dict(),
            "environments": {
                name: {
                    "stages": {
                        stats.stage: {**stats.to_dict(), "gate": self.gate(stats).to_dict()}
                        for stats in self.stages(name)
                    }
                }
                for name in sorted(self.environments)
            },
            "costs": {name: self.costs[name].to_dict() for name in sorted(self.costs)},
        }


def build_report(
    lines: Iterable[str],
    *,
    source: str = "<lines>",
    environment: str | None = None,
    thresholds: Thresholds | None = None,
) -> RolloutReport:
    """Count `lines` (JSON log lines), keeping only `environment` when one is given."""
    report = RolloutReport(source, thresholds or Thresholds(), environment)
    for line in lines:
        report.add_line(line)
    return report


def read_report(
    path: str | Path,
    *,
    environment: str | None = None,
    thresholds: Thresholds | None = None,
) -> RolloutReport:
    """The report of a log file (`-`: stdin); raises OSError or EOFError if unreadable."""
    source = "<stdin>" if str(path) == "-" else str(path)
    with open_log(path) as stream:
        return build_report(stream, source=source, environment=environment, thresholds=thresholds)
