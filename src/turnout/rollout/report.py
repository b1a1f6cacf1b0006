"""`turnout rollout report`: read a log, count per environment and stage, evaluate the gates.

`build_report(lines)` does the work on any iterable of lines (a file, stdin, a list in a
test); `read_report(path)` opens a file (or `-`). The result is a `RolloutReport`, whose
`to_dict()` is the command's `--json` output. Counting is one pass that keeps counters
only (per environment, block, backend, node and mismatch path), never the events, so a
day of production logs is fine.

A **block** is what one step of the runbook produced: the events of one environment and
stage under one flag configuration (the `flags_hash` every event carries), with the
executions an override decided in a block of their own. A log that spans an edit of the
flags therefore shows each step apart, each with its own hours; `merge_configurations`
folds the configurations of a stage together again, and the report says so. Events of
workers that logged no hash fall in one block per stage, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turnout.flags.stages import STAGES
from turnout.log_events import CodeNodeExecuted, FlagsReloaded, LoggedEvent
from turnout.rollout.costs import EnvironmentCosts
from turnout.rollout.events import open_log, read_line
from turnout.rollout.gates import Gate, Thresholds, evaluate_gate
from turnout.rollout.stats import DIRECT, StageStats

__all__ = ["RolloutReport", "build_report", "read_report"]

_STAGE_ORDER = {stage: index for index, stage in enumerate((*STAGES, DIRECT))}
_OVERRIDES = frozenset({"tenant_override", "workflow_override"})
MAX_PROBLEMS = 5
"""How many malformed lines the report quotes (it counts them all)."""


@dataclass
class RolloutReport:
    """Counters per environment and stage, and the thresholds their gates are judged by.

    `lines` is every line read, `events` those counted, `skipped` the others (not JSON, or
    not an event the report reads), `malformed` those of the skipped that hold an event
    the report reads with a bad field (`problems`: the first few reasons, naming the
    field); events of environments left out by `only` are neither.
    `costs` sums the usage runs reported, per environment (see `turnout.rollout.costs`).
    """

    source: str
    thresholds: Thresholds = field(default_factory=Thresholds)
    only: str | None = None
    merge_configurations: bool = False
    lines: int = 0
    events: int = 0
    skipped: int = 0
    malformed: int = 0
    problems: list[str] = field(default_factory=list)
    reloads: int = 0
    environments: dict[str, dict[str, StageStats]] = field(default_factory=dict)
    costs: dict[str, EnvironmentCosts] = field(default_factory=dict)

    def add_line(self, line: str) -> None:
        """Count one log line."""
        self.lines += 1
        logged = read_line(line)
        if not isinstance(logged, LoggedEvent):
            self.skipped += 1
            if logged.malformed:
                self.malformed += 1
                if len(self.problems) < MAX_PROBLEMS:
                    self.problems.append(f"line {self.lines}: {logged.reason}")
            return
        event = logged.event
        if isinstance(event, FlagsReloaded):
            self.reloads += 1
            self.events += 1
            return
        environment = event.environment
        if self.only is not None and environment != self.only:
            return
        self.events += 1
        stage, flags_hash, via_override = self._block_of(logged)
        key = _block_name(stage, flags_hash, via_override)
        blocks = self.environments.setdefault(environment, {})
        stats = blocks.get(key)
        if stats is None:
            stats = blocks[key] = StageStats(
                environment, stage, flags_hash=flags_hash, via_override=via_override
            )
        stats.add(logged)
        if isinstance(event, CodeNodeExecuted):
            costs = self.costs.get(environment) or EnvironmentCosts()
            if costs.add(event):
                self.costs[environment] = costs

    def _block_of(self, logged: LoggedEvent) -> tuple[str, str | None, bool]:
        """Stage, flags hash (None: merged, or not logged), decided by an override."""
        decision = getattr(logged.event, "decision", None)
        if decision is None:
            return (DIRECT, None, False)
        flags_hash = None if self.merge_configurations else decision.flags_hash
        return (decision.stage, flags_hash, decision.decided_by in _OVERRIDES)

    def stages(self, environment: str) -> list[StageStats]:
        """The environment's blocks in the order of advancement (`direct` runs last), a
        stage's configurations in the order they were first seen, overrides after."""
        found = self.environments.get(environment, {})
        return sorted(
            found.values(),
            key=lambda s: (
                _STAGE_ORDER.get(s.stage, 99),
                s.stage,
                s.via_override,
                s.first.timestamp() if s.first else 0.0,
            ),
        )

    def blocks(self, environment: str) -> dict[str, StageStats]:
        """The environment's blocks by name (`label`), in the order of `stages`: a stage's
        name alone when it ran under one configuration."""
        return {self.label(stats): stats for stats in self.stages(environment)}

    def configurations(self, environment: str) -> list[str]:
        """The flag configurations (hashes) of the environment's events, oldest first."""
        blocks = [s for s in self.environments.get(environment, {}).values() if s.flags_hash]
        blocks.sort(key=lambda s: s.first.timestamp() if s.first else 0.0)
        return list(dict.fromkeys(s.flags_hash for s in blocks if s.flags_hash))

    def label(self, stats: StageStats) -> str:
        """How a block is named: its stage, `(override)` for an override's executions, and
        its configuration when the stage ran under more than one."""
        siblings = [
            other
            for other in self.environments.get(stats.environment, {}).values()
            if (other.stage, other.via_override) == (stats.stage, stats.via_override)
        ]
        flags_hash = stats.flags_hash if len(siblings) > 1 else None
        return _block_name(stats.stage, flags_hash, stats.via_override)

    def compared_nodes(self, environment: str) -> set[str]:
        """The nodes (code hashes) compared anywhere in the environment's log."""
        found: set[str] = set()
        for stats in self.environments.get(environment, {}).values():
            found |= stats.compared_nodes()
        return found

    def runs_elsewhere(self, stats: StageStats) -> int:
        """Runs on a backend other than the block's target, in any block of the same
        environment and configuration (overrides included; explicit `direct` runs not):
        what the rampdown gate's "no other backend" must see."""
        total = stats.other_backend_runs
        for other in self.environments.get(stats.environment, {}).values():
            if other is stats or other.stage == DIRECT or other.flags_hash != stats.flags_hash:
                continue
            total += sum(
                tally.runs for name, tally in other.backends.items() if name != stats.target_backend
            )
        return total

    def gate(self, stats: StageStats) -> Gate:
        """The gate to leave that block's stage, under this report's thresholds."""
        return evaluate_gate(
            stats,
            self.thresholds,
            compared_nodes=self.compared_nodes(stats.environment),
            runs_elsewhere=self.runs_elsewhere(stats),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "environment": self.only,
            "lines": self.lines,
            "events": self.events,
            "skipped": self.skipped,
            "malformed": self.malformed,
            "problems": list(self.problems),
            "flags_reloaded": self.reloads,
            "merge_configurations": self.merge_configurations,
            "thresholds": self.thresholds.to_dict(),
            "environments": {
                name: {
                    "configurations": self.configurations(name),
                    "stages": {
                        label: {
                            **stats.to_dict(),
                            "never_compared_executions": stats.never_compared_executions(
                                self.compared_nodes(name)
                            ),
                            "gate": self.gate(stats).to_dict(),
                        }
                        for label, stats in self.blocks(name).items()
                    },
                }
                for name in sorted(self.environments)
            },
            "costs": {name: self.costs[name].to_dict() for name in sorted(self.costs)},
        }


def _block_name(stage: str, flags_hash: str | None, via_override: bool) -> str:
    override = " (override)" if via_override else ""
    configuration = f" [flags {flags_hash}]" if flags_hash else ""
    return f"{stage}{override}{configuration}"


def build_report(
    lines: Iterable[str],
    *,
    source: str = "<lines>",
    environment: str | None = None,
    thresholds: Thresholds | None = None,
    merge_configurations: bool = False,
) -> RolloutReport:
    """Count `lines` (JSON log lines), keeping only `environment` when one is given."""
    report = RolloutReport(source, thresholds or Thresholds(), environment, merge_configurations)
    for line in lines:
        report.add_line(line)
    return report


def read_report(
    path: str | Path,
    *,
    environment: str | None = None,
    thresholds: Thresholds | None = None,
    merge_configurations: bool = False,
) -> RolloutReport:
    """The report of a log file (`-`: stdin); raises OSError or EOFError if unreadable."""
    source = "<stdin>" if str(path) == "-" else str(path)
    with open_log(path) as stream:
        return build_report(
            stream,
            source=source,
            environment=environment,
            thresholds=thresholds,
            merge_configurations=merge_configurations,
        )
