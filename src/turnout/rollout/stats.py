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
- **coverage**, per node (the `code_sha256` of its code): executions, comparisons where
  both backends ran, executions not compared because the node is not marked
  side-effect-free or the sample left them out (`shadow_skipped` of the decision), and
  shed shadows. A node is *compared* when some comparison of it exists anywhere in the
  environment's log; the executions of the others are the *never compared* share.
- **override executions**: executions an override decided are counted in a block of their
  own (`via_override`), never in a rollout step's; executions **under the kill switch**
  (`legacy_killed`) are counted apart from `executions`: they are no evidence for `live`.
- the **target backend**: the backend the migration moves to, read from the decision
  fields (the candidate in `shadow`, the authoritative backend in later stages or when
  the legacy backend is killed); None in `off`, where the target does not run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from turnout.log_events import (
    CodeNodeExecuted,
    DecisionFields,
    FallbackToLegacy,
    LoggedEvent,
    ShadowComparison,
    ShadowFailed,
    ShadowShed,
)
from turnout.rollout.events import SERVED_ROLES, classify_outcome, comparison_verdict

__all__ = [
    "DIRECT",
    "NO_HASH",
    "TOP_MISMATCH_PATHS",
    "BackendTally",
    "NodeCoverage",
    "StageStats",
    "node_key",
    "rate",
]

DIRECT = "direct"
"""The stage key of runs without a flag decision (`Engine.execute(..., backend=...)`)."""
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

    def add(self, event: CodeNodeExecuted) -> None:
        """Count one `code_node_executed` event of this backend."""
        self.runs += 1
        self.shadow_runs += event.role == "shadow"
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


NO_HASH = "-"
"""The node key of events that carry no code hash (logs of older workers)."""


@dataclass
class NodeCoverage:
    """What happened to one node's executions in one block (see the module docstring)."""

    executions: int = 0
    compared: int = 0
    not_marked: int = 0
    not_sampled: int = 0
    shed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "executions": self.executions,
            "compared": self.compared,
            "not_marked": self.not_marked,
            "not_sampled": self.not_sampled,
            "shed": self.shed,
        }


def node_key(event: CodeNodeExecuted | ShadowComparison | ShadowShed) -> str:
    """The node an event is about: its code hash, or `NO_HASH`."""
    return event.code_sha256 or NO_HASH


@dataclass
class StageStats:
    """Everything counted for one environment and stage (see the module docstring)."""

    environment: str
    stage: str
    flags_hash: str | None = None
    via_override: bool = False
    executions: int = 0
    killed_executions: int = 0
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
    accepted_differences: int = 0
    accepted: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    """Differences the production ledger covers, by (node, path, owner, reason)."""
    first: datetime | None = None
    last: datetime | None = None
    shares: set[int] = field(default_factory=set)
    flags_hashes: set[str] = field(default_factory=set)
    coverage: dict[str, NodeCoverage] = field(default_factory=dict)

    def add(self, logged: LoggedEvent) -> None:
        """Count one event (read by `read_line`) of this environment and stage."""
        self._see(logged)
        event = logged.event
        if isinstance(event, CodeNodeExecuted):
            self.backends.setdefault(event.backend, BackendTally()).add(event)
            self.shadow_runs += event.role == "shadow"
            if event.role in SERVED_ROLES:
                self._add_execution(event)
        elif isinstance(event, ShadowComparison):
            self._add_comparison(event)
        elif isinstance(event, ShadowShed):
            self.shed += 1
            self._node(event).shed += 1
        elif isinstance(event, ShadowFailed):
            self.shadow_failures += 1
        elif isinstance(event, FallbackToLegacy):
            self.fallbacks += 1

    def _node(self, event: CodeNodeExecuted | ShadowComparison | ShadowShed) -> NodeCoverage:
        return self.coverage.setdefault(node_key(event), NodeCoverage())

    def _add_execution(self, event: CodeNodeExecuted) -> None:
        decision = event.decision
        if decision is not None and decision.legacy_killed is True:
            self.killed_executions += 1
        else:
            self.executions += 1
        node = self._node(event)
        node.executions += 1
        skipped = decision.shadow_skipped if decision is not None else None
        node.not_marked += skipped == "not_marked"
        node.not_sampled += skipped == "not_sampled"

    def _see(self, logged: LoggedEvent) -> None:
        decision = getattr(logged.event, "decision", None)
        if decision is not None:
            if decision.stage_share is not None:
                self.shares.add(decision.stage_share)
            if decision.flags_hash is not None:
                self.flags_hashes.add(decision.flags_hash)
            if self.target_backend is None:
                self.target_backend = _target_backend(decision)
        moment = logged.timestamp
        if moment is not None:
            self.first = moment if self.first is None else min(self.first, moment)
            self.last = moment if self.last is None else max(self.last, moment)

    def _add_comparison(self, event: ShadowComparison) -> None:
        verdict = comparison_verdict(event)
        if verdict == "candidate_error":
            self.candidate_errors += 1
            return
        if verdict == "authoritative_error":
            self.authoritative_errors += 1
            return
        self.comparisons += 1
        self._node(event).compared += 1
        self.matches += verdict == "match"
        self.ignored += verdict == "ignored"
        self.mismatches += verdict == "mismatch"
        self.ignored_differences += _count(event.ignored_count)
        self.mismatched_differences += _count(event.mismatch_count)
        for difference in event.mismatches or ():
            if isinstance(difference.get("path"), str):
                self.mismatch_paths[difference["path"]] += 1
        self.accepted_differences += _count(event.accepted_count)
        for item in event.accepted or ():
            fields = [item.get(key) for key in _LEDGER]
            if all(isinstance(value, str) for value in fields):
                path, owner, reason = (str(value) for value in fields)
                self.accepted[(node_key(event), path, owner, reason)] += 1

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
    def shed_rate(self) -> float | None:
        """Shadow runs shed for lack of capacity, per shadow run started or shed."""
        return rate(self.shed, self.shed + self.shadow_outcomes + self.shadow_failures)

    def compared_nodes(self) -> set[str]:
        """The nodes (code hashes) with at least one comparison here."""
        return {key for key, node in self.coverage.items() if node.compared and key != NO_HASH}

    def never_compared(self, compared: set[str]) -> dict[str, NodeCoverage]:
        """The nodes that ran here and are not in `compared` (the environment's compared
        nodes), most executions first."""
        found = {
            key: node
            for key, node in self.coverage.items()
            if node.executions and key not in compared
        }
        return dict(sorted(found.items(), key=lambda item: (-item[1].executions, item[0])))

    def never_compared_executions(self, compared: set[str]) -> int:
        """Executions here of nodes that were never compared (see `never_compared`)."""
        return sum(node.executions for node in self.never_compared(compared).values())

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
            "stage": self.stage,
            "flags_hashes": sorted(self.flags_hashes),
            "stage_shares": sorted(self.shares),
            "via_override": self.via_override,
            "executions": self.executions,
            "killed_executions": self.killed_executions,
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
            "accepted_differences": self.accepted_differences,
            "accepted_divergences": [
                {"node": node, "path": path, "owner": owner, "reason": reason, "count": count}
                for (node, path, owner, reason), count in sorted(self.accepted.items())
            ],
            "shed": self.shed,
            "shed_rate": self.shed_rate,
            "shadow_failures": self.shadow_failures,
            "fallbacks": self.fallbacks,
            "fallback_rate": self.fallback_rate,
            "target_backend": self.target_backend,
            "backends": {name: t.to_dict() for name, t in sorted(self.backends.items())},
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "hours": self.hours,
            "coverage": {key: node.to_dict() for key, node in sorted(self.coverage.items())},
        }


_LEDGER = ("path", "owner", "reason")


def _count(value: int | None) -> int:
    return value if value is not None and value > 0 else 0


def _target_backend(decision: DecisionFields) -> str | None:
    stage = decision.stage
    if decision.legacy_killed is True or stage in ("live", "rampdown", "complete"):
        return decision.authoritative_backend
    if stage == "shadow":
        return decision.candidate_backend
    return None
