"""The rollout report: what a staged migration did, read back from turnout's JSON logs.

events.py   which log lines count, how a run's outcome is classified, opening a log
stats.py    counters per environment and stage (executions, backends, comparisons)
gates.py    the promotion gates of docs/migration-runbook.md and their thresholds
report.py   one pass over the lines: `build_report`, `read_report`, `RolloutReport`
costs.py    what the runs cost (their `usage`), per environment, tenant and workflow
render.py   the human-readable output of `turnout rollout report`
"""

from turnout.rollout.costs import CostSum, EnvironmentCosts
from turnout.rollout.events import classify_outcome, open_log, parse_line
from turnout.rollout.gates import Check, Gate, Thresholds, evaluate_gate
from turnout.rollout.render import render_text
from turnout.rollout.report import RolloutReport, build_report, read_report
from turnout.rollout.stats import DIRECT, BackendTally, StageStats

__all__ = [
    "DIRECT",
    "BackendTally",
    "Check",
    "CostSum",
    "EnvironmentCosts",
    "Gate",
    "RolloutReport",
    "StageStats",
    "Thresholds",
    "build_report",
    "classify_outcome",
    "evaluate_gate",
    "open_log",
    "parse_line",
    "read_report",
    "render_text",
]
