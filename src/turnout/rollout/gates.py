"""The promotion gates of docs/migration-runbook.md, evaluated on one stage's counters.

A gate says whether the executions an environment ran in one stage are evidence enough to
move keys to the next stage. Each check compares one number with one threshold; the gate is
met when every check is. A number that cannot be computed, like a rate over zero runs, fails
its check (no evidence is not good evidence), except live's mismatch rate: live need not
compare, because shadow already did for the same keys. Some conditions are not in the logs, such as
the conformance verdict; they are listed as `manual` and never counted as met.

    stage     next                         checks
    off       shadow                       none from logs (manual: conformance verdict)
    shadow    live                         comparisons, mismatch rate, candidate error rate,
                                           never-compared share, shed rate, target infra
                                           errors, hours (manual: conformance verdict)
    live      larger share, or rampdown    executions, mismatch rate and candidate error rate
                                           (if compared), never-compared share, shed rate,
                                           target infra errors, fallback rate, hours
    rampdown  complete                     executions, target infra errors, no other backend
                                           ran in the environment, hours (manual:
                                           conformance verdict)
    complete  (final)                      none

A block of executions an override decided has no gate: an override is a choice for named
tenants or workflows, no evidence about a rollout share. Executions under the kill switch
are not counted as executions (they ran without comparison or fallback).

Coverage: the **never-compared share** is the executions of nodes (code hashes) that no
comparison in the environment's log covers (not marked side-effect-free, never sampled,
always shed), per execution of the block; the **shed rate** is the shadow runs shed for
lack of capacity, per shadow run started or shed. A gate met on comparisons of some nodes
says nothing about the others, so both are bounded.

Limits are inclusive: a minimum is met at exactly the minimum, a maximum rate at exactly
the maximum. Rates compare exactly (as fractions), so 1 mismatch in 1000 meets 0.1%.

A candidate that could not run the code (no key, a sandbox that could not be created, a
bug) is not a mismatch: the mismatch rate is over comparisons where both backends ran, and
the candidate error rate bounds the rest with its own limit. An authoritative backend that
could not run is not gated here: its failures are its runs' infrastructure errors (the
target infrastructure error rate, from live on, where the target answers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from turnout.rollout.stats import StageStats

__all__ = ["CONFORMANCE", "Check", "Gate", "Thresholds", "evaluate_gate"]

CONFORMANCE = (
    "conformance verdict: `turnout conformance` says the legacy backend can be deleted "
    "(see docs/conformance.md)"
)
OVERRIDE = (
    "executions decided by an override: counted apart, no evidence for a rollout step "
    "(the gate is the rollout's block of this stage)"
)
NEXT_STAGE = {
    "off": "shadow",
    "shadow": "live",
    "live": "a larger live share, or rampdown at 100%",
    "rampdown": "complete",
}


@dataclass(frozen=True)
class Thresholds:
    """The gates' limits; the defaults are the runbook's (each is a CLI `--gate-*` flag)."""

    min_comparisons: int = 1000
    max_mismatch_rate: float = 0.001
    max_infrastructure_error_rate: float = 0.01
    max_candidate_error_rate: float = 0.01
    min_executions: int = 1000
    max_fallback_rate: float = 0.01
    min_hours: float = 24.0
    max_never_compared_share: float = 0.05
    max_shed_rate: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Check:
    """One condition of a gate: `value` against `limit` (`at_most`: value <= limit)."""

    name: str
    value: float | None
    limit: float
    at_most: bool
    met: bool

    @property
    def is_rate(self) -> bool:
        return self.name.endswith(("rate", "share"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "limit": self.limit,
            "comparison": "<=" if self.at_most else ">=",
            "met": self.met,
        }


@dataclass(frozen=True)
class Gate:
    """Whether one stage's evidence allows the next step (`met` is None: not from logs)."""

    stage: str
    next_stage: str | None
    checks: tuple[Check, ...] = ()
    manual: tuple[str, ...] = ()

    @property
    def met(self) -> bool | None:
        if not self.checks:
            return None
        return all(check.met for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "next": self.next_stage,
            "met": self.met,
            "checks": [check.to_dict() for check in self.checks],
            "manual": list(self.manual),
        }


def evaluate_gate(
    stats: StageStats,
    limits: Thresholds,
    *,
    compared_nodes: set[str] | None = None,
    runs_elsewhere: int | None = None,
) -> Gate:
    """The gate to leave `stats.stage`, evaluated on its counters (see the module table).

    `compared_nodes` are the nodes compared anywhere in the environment (default: in this
    block); `runs_elsewhere` the runs on another backend than the target in the whole
    environment under the same flags (default: in this block).
    """
    stage = stats.stage
    if stats.via_override:
        return Gate(stage, None, manual=(OVERRIDE,))
    compared = stats.compared_nodes() if compared_nodes is None else compared_nodes
    coverage = (
        _rate(
            "never-compared share",
            stats.never_compared_executions(compared),
            stats.executions,
            limits.max_never_compared_share,
        ),
        _rate(
            "shed rate",
            stats.shed,
            stats.shed + stats.shadow_outcomes + stats.shadow_failures,
            limits.max_shed_rate,
            none_ok=True,
        ),
    )
    target = stats.target
    target_runs = target.runs if target else 0
    target_infra = target.infrastructure_errors if target else 0
    infra = _rate(
        "target infrastructure error rate",
        target_infra,
        target_runs,
        limits.max_infrastructure_error_rate,
    )
    hours = _minimum("hours", stats.hours, limits.min_hours)
    candidate_errors = _rate(
        "candidate error rate",
        stats.candidate_errors,
        stats.shadow_outcomes,
        limits.max_candidate_error_rate,
        none_ok=stage == "live",
    )
    next_stage = NEXT_STAGE.get(stage)
    if stage == "off":
        return Gate(stage, next_stage, manual=(CONFORMANCE,))
    checks: tuple[Check, ...]
    if stage == "shadow":
        checks = (
            _minimum("comparisons", stats.comparisons, limits.min_comparisons),
            _rate("mismatch rate", stats.mismatches, stats.comparisons, limits.max_mismatch_rate),
            candidate_errors,
            *coverage,
            infra,
            hours,
        )
        return Gate(stage, next_stage, checks, manual=(CONFORMANCE,))
    if stage == "live":
        checks = (
            _minimum("executions", stats.executions, limits.min_executions),
            _rate(
                "mismatch rate",
                stats.mismatches,
                stats.comparisons,
                limits.max_mismatch_rate,
                none_ok=True,
            ),
            candidate_errors,
            *coverage,
            infra,
            _rate("fallback rate", stats.fallbacks, stats.executions, limits.max_fallback_rate),
            hours,
        )
        return Gate(stage, next_stage, checks)
    if stage == "rampdown":
        checks = (
            _minimum("executions", stats.executions, limits.min_executions),
            infra,
            _at_most_zero(
                "other backend runs",
                stats.other_backend_runs if runs_elsewhere is None else runs_elsewhere,
            ),
            hours,
        )
        return Gate(stage, next_stage, checks, manual=(CONFORMANCE,))
    return Gate(stage, None)


def _at_most_zero(name: str, count: int) -> Check:
    return Check(name, count, 0, True, count == 0)


def _minimum(name: str, value: float | None, limit: float) -> Check:
    return Check(name, value, limit, False, value is not None and value >= limit)


def _rate(name: str, count: int, total: int, limit: float, *, none_ok: bool = False) -> Check:
    """`count / total <= limit`, compared exactly; over zero `total`, met only if `none_ok`."""
    if total == 0:
        return Check(name, None, limit, True, none_ok)
    met = Fraction(count, total) <= Fraction(str(limit))
    return Check(name, count / total, limit, True, met)
