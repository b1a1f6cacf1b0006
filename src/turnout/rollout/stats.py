"""Counters for one environment and stage: executions, runs per backend, comparisons.

What is counted (the definitions `turnout rollout report` prints and docs/migration-
runbook.md gates on):

- **executions**: the caller's executions, i.e. runs with role `authoritative` or `direct`.
  A `fallback` run retries an execution already counted by its failed authoritative run,
  so it adds to the legacy backend's runs and to `fallbacks`, not to executions.
- **runs per backend**: every `code_node_executed` of that backend, whatever its role, with
  how many were shadow runs, and how each ended (`turnout.rollout.events.classify_outcome`).
- **comparisons**: `shadow_comparison` events where both backends ran the code, by verdict
  (`match`, `ignored`, `mismatch`), plus the differences they counted (`ignored_count`,
  `mismatch_count`) and the paths of the mismatches (never values: the comparison event
  carries none).
- **candidate errors** and **authoritative errors**: `shadow_comparison` events where that
  side could not run the code (infrastructure, configuration, a bug in turnout), so
  nothing was compared (`turnout.rollout.events.comparison_verdict`). They are neither
  comparisons nor mismatches; the candidate error rate is candidate errors over every
  `shadow_comparison` event (the shadow runs that finished).
- **shed**, **shadow failures**, **fallbacks**: `shadow_shed`, `shadow_failed` and
  `fallback_to_legacy` events.
- the **target backend**: the backend the migration moves to, read from the decision
  fields (the candidate in `shadow`, the authoritative backend in later stages or when
  the legacy backend is killed); None in `off`, where the target does not run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from turnout.rollout.events import SERVED_ROLES, classify_outcome, comparison_verdict, event_time

__all__ = ["DIRECT", "TOP_MISMATCH_PATHS", "BackendTally", "StageStats", "rate"]

DIRECT = "direct"
"""The stage key of runs without a flag decision (`Engine.run(..., backend=...)`)."""
TOP_MISMATCH_PATHS = 5


def rate(count: int, total: int) -> float | None:
    """`count / total`, or None when nothing was counted (a rate of nothing is unknown)."""
    return count / total if total else None


@dataclass
class BackendTally:
    """How the runs of one backend ended, in one environment and stage."""

    runs: int = 0
    shadow_runs: int = 0
    ok: int = 0
    user_errors: int = 0
    infrastructure_errors: int = 0
    invalid: int = 0

    def add(self, event: dict[str, Any]) -> None:
        """Count one `code_node_executed` event of this backend."""
        self.runs += 1
        self.shadow_runs += event.get("role") == "shadow"
        outcome = classify_outcome(event)
        if outcome == "ok":
            self.ok += 1
        elif outcome == "user":
            self.user_errors += 1
        elif outcome == "infrastructure":
            self.infrastructure_errors += 1
        else:
            self.invalid += 1

    @property
    def user_error_rate(self) -> float | None:
        return rate(self.user_errors, self.runs)

    @property
    def infrastructure_error_rate(self) -> float | None:
        return rate(self.infrastructure_errors, self.runs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "shadow_runs": self.shadow_runs,
            "ok": self.ok,
            "user_errors": self.user_errors,
            "infrastructure_errors": self.infrastructure_errors,
            "invalid": self.invalid,
            "user_error_rate": self.user_error_rate,
            "infrastructure_error_rate": self.infrastructure_error_rate,
        }


@dataclass
class StageStats:
    """Everything counted for one environment and stage (see the module docstring)."""

    environment: str
    stage: str
    executions: int = 0
    shadow_runs: int = 0
    comparisons: int = 0
    matches: int = 0
    ignored: int = 0
    mismatches: int = 0
    candidate_errors: int = 0
    authoritative_errors: int = 0
    ignored_differences: int = 0
    mismatched_differences: int = 0
    shed: int = 0
    shadow_failures: int = 0
    fallbacks: int = 0
    target_backend: str | None = None
    backends: dict[str, BackendTally] = field(default_factory=dict)
    mismatch_paths: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None

    def add(self, event: dict[str, Any]) -> None:
        """Count one event (already checked by `parse_line`) of this environment and stage."""
        self._see(event)
        name = event["event"]
        if name == "code_node_executed":
            self.backends.setdefault(event["backend"], BackendTally()).add(event)
            role = event["role"]
            self.executions += role in SERVED_ROLES
            self.shadow_runs += role == "shadow"
        elif name == "shadow_comparison":
            self._add_comparison(event)
        elif name == "shadow_shed":
            self.shed += 1
        elif name == "shadow_failed":
            self.shadow_failures += 1
        elif name == "fallback_to_legacy":
            self.fallbacks += 1

    def _see(self, event: dict[str, Any]) -> None:
        moment = event_time(event)
        if moment is not None:
            self.first = moment if self.first is None else min(self.first, moment)
            self.last = moment if self.last is None else max(self.last, moment)
        if self.target_backend is None:
            self.target_backend = _target_backend(event)

    def _add_comparison(self, event: dict[str, Any]) -> None:
        verdict = comparison_verdict(event)
        if verdict == "candidate_error":
            self.candidate_errors += 1
            return
        if verdict == "authoritative_error":
            self.authoritative_errors += 1
            return
        self.comparisons += 1
        self.matches += verdict == "match"
        self.ignored += verdict == "ignored"
        self.mismatches += verdict == "mismatch"
        self.ignored_differences += _count(event.get("ignored_count"))
        self.mismatched_differences += _count(event.get("mismatch_count"))
        for difference in event.get("mismatches") or ():
            if isinstance(difference, dict) and isinstance(difference.get("path"), str):
                self.mismatch_paths[difference["path"]] += 1

    @property
    def mismatch_rate(self) -> float | None:
        """Comparisons with a real mismatch, per comparison (ignored ones are not)."""
        return rate(self.mismatches, self.comparisons)

    @property
    def shadow_outcomes(self) -> int:
        """Every finished shadow run: compared, or one side could not run."""
        return self.comparisons + self.candidate_errors + self.authoritative_errors

    @property
    def candidate_error_rate(self) -> float | None:
        """Shadow runs whose candidate could not run the code, per finished shadow run."""
        return rate(self.candidate_errors, self.shadow_outcomes)

    @property
    def fallback_rate(self) -> float | None:
        return rate(self.fallbacks, self.executions)

    @property
    def hours(self) -> float | None:
        """Hours from the first to the last event counted here (the window observed)."""
        if self.first is None or self.last is None:
            return None
        return (self.last - self.first).total_seconds() / 3600

    @property
    def target(self) -> BackendTally | None:
        """The target backend's runs, if it ran here."""
        return self.backends.get(self.target_backend) if self.target_backend else None

    @property
    def other_backend_runs(self) -> int:
        """Runs of any backend but the target (in `rampdown`, proof that legacy is unused)."""
        return sum(t.runs for name, t in self.backends.items() if name != self.target_backend)

    def to_dict(self) -> dict[str, Any]:
        return {
            "executions": self.executions,
            "shadow_runs": self.shadow_runs,
            "comparisons": self.comparisons,
            "matches": self.matches,
            "ignored": self.ignored,
            "mismatches": self.mismatches,
            "mismatch_rate": self.mismatch_rate,
            "candidate_errors": self.candidate_errors,
            "authoritative_errors": self.authoritative_errors,
            "candidate_error_rate": self.candidate_error_rate,
            "ignored_differences": self.ignored_differences,
            "mismatched_differences": self.mismatched_differences,
            "top_mismatch_paths": dict(self.mismatch_paths.most_common(TOP_MISMATCH_PATHS)),
            "shed": self.shed,
            "shadow_failures": self.shadow_failures,
            "fallbacks": self.fallbacks,
            "fallback_rate": self.fallback_rate,
            "target_backend": self.target_backend,
            "backends": {name: t.to_dict() for name, t in sorted(self.backends.items())},
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "hours": self.hours,
        }


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _target_backend(event: dict[str, Any]) -> str | None:
    stage = event.get("stage")
    if event.get("legacy_killed") is True or stage in ("live", "rampdown", "complete"):
        backend = event.get("authoritative_backend")
    elif stage == "shadow":
        backend = event.get("candidate_backend")
    else:
        return None
    return backend if isinstance(backend, str) else None
