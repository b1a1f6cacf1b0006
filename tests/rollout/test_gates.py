"""Tests for the promotion gates (turnout.rollout.gates), at their boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from turnout.rollout import BackendTally, Check, Gate, StageStats, Thresholds, evaluate_gate

from .support import LEGACY, TARGET

LIMITS = Thresholds()
START = datetime(2026, 1, 10, tzinfo=UTC)


def stage_stats(
    stage: str,
    *,
    executions: int = 1000,
    comparisons: int = 1000,
    mismatches: int = 0,
    candidate_errors: int = 0,
    target_runs: int = 1000,
    infrastructure_errors: int = 0,
    fallbacks: int = 0,
    legacy_runs: int = 0,
    hours: float = 24.0,
) -> StageStats:
    """Counters of one stage that meet every default gate unless a value is changed."""
    stats = StageStats(
        "prod",
        stage,
        executions=executions,
        comparisons=comparisons,
        matches=comparisons - mismatches,
        mismatches=mismatches,
        candidate_errors=candidate_errors,
        fallbacks=fallbacks,
        target_backend=TARGET,
        first=START,
        last=START + timedelta(hours=hours),
    )
    stats.backends[TARGET] = BackendTally(
        runs=target_runs,
        ok=target_runs - infrastructure_errors,
        infrastructure_errors=infrastructure_errors,
    )
    if legacy_runs:
        stats.backends[LEGACY] = BackendTally(runs=legacy_runs, ok=legacy_runs)
    return stats


def check(gate: Gate, name: str) -> Check:
    [found] = [c for c in gate.checks if c.name == name]
    return found


class TestOffGate:
    def test_is_not_decided_by_logs(self) -> None:
        """Leaving off needs the conformance verdict, which no log holds: `met` is None."""
        gate = evaluate_gate(stage_stats("off"), LIMITS)
        assert (gate.next_stage, gate.met, gate.checks) == ("shadow", None, ())
        assert "docs/conformance.md" in gate.manual[0]


class TestShadowGate:
    def test_met_at_every_default_limit(self) -> None:
        """Exactly 1000 comparisons, 0.1% mismatches, 1% infra errors and 24 h meet the gate."""
        stats = stage_stats("shadow", mismatches=1, infrastructure_errors=10)
        gate = evaluate_gate(stats, LIMITS)
        assert gate.next_stage == "live"
        assert gate.met is True

    def test_one_comparison_short_fails(self) -> None:
        """999 comparisons are below the minimum of 1000."""
        gate = evaluate_gate(stage_stats("shadow", comparisons=999, target_runs=999), LIMITS)
        assert not check(gate, "comparisons").met
        assert gate.met is False

    def test_mismatch_rate_just_over_the_limit_fails(self) -> None:
        """2 mismatches in 1000 comparisons (0.2%) exceed 0.1%."""
        gate = evaluate_gate(stage_stats("shadow", mismatches=2), LIMITS)
        assert not check(gate, "mismatch rate").met

    def test_mismatch_rate_compares_exactly(self) -> None:
        """3 mismatches in 3000 is exactly 0.1% and meets the limit (no float rounding)."""
        stats = stage_stats("shadow", comparisons=3000, mismatches=3)
        assert check(evaluate_gate(stats, LIMITS), "mismatch rate").met

    def test_candidate_errors_have_their_own_check(self) -> None:
        """10 candidate errors beside 1000 comparisons (0.99%) meet the 1% limit, and do
        not count as mismatches."""
        gate = evaluate_gate(stage_stats("shadow", candidate_errors=10), LIMITS)
        assert check(gate, "candidate error rate").met
        assert check(gate, "mismatch rate").value == 0
        assert gate.met is True

    def test_candidate_error_rate_just_over_the_limit_fails(self) -> None:
        """11 candidate errors beside 1000 comparisons (1.09%) exceed 1%."""
        gate = evaluate_gate(stage_stats("shadow", candidate_errors=11), LIMITS)
        assert not check(gate, "candidate error rate").met
        assert gate.met is False

    def test_only_candidate_errors_is_no_evidence(self) -> None:
        """A candidate that never ran (no key in staging) gives no comparison: the mismatch
        rate is unknown and fails, and the candidate error rate is 100%."""
        stats = stage_stats("shadow", comparisons=0, candidate_errors=7)
        gate = evaluate_gate(stats, LIMITS)
        assert check(gate, "mismatch rate").value is None
        assert not check(gate, "mismatch rate").met
        assert check(gate, "candidate error rate").value == 1.0
        assert gate.met is False

    def test_target_infrastructure_rate_just_over_the_limit_fails(self) -> None:
        """11 infrastructure errors in 1000 target runs (1.1%) exceed 1%."""
        gate = evaluate_gate(stage_stats("shadow", infrastructure_errors=11), LIMITS)
        assert not check(gate, "target infrastructure error rate").met

    def test_no_target_runs_fails(self) -> None:
        """Without a single target run there is no infrastructure evidence: the check fails."""
        gate = evaluate_gate(stage_stats("shadow", target_runs=0), LIMITS)
        infra = check(gate, "target infrastructure error rate")
        assert (infra.value, infra.met) == (None, False)

    def test_a_window_shorter_than_the_minimum_fails(self) -> None:
        """23.9 hours of logs are short of the 24 required."""
        gate = evaluate_gate(stage_stats("shadow", hours=23.9), LIMITS)
        assert not check(gate, "hours").met

    def test_requires_the_conformance_verdict_too(self) -> None:
        """The shadow gate still lists the conformance verdict as a manual condition."""
        assert evaluate_gate(stage_stats("shadow"), LIMITS).manual

    def test_thresholds_can_be_lowered(self) -> None:
        """Overridden thresholds are the ones applied (e.g. a quiet staging environment)."""
        stats = stage_stats("shadow", comparisons=50, target_runs=50, hours=2)
        limits = Thresholds(min_comparisons=50, min_hours=2)
        assert evaluate_gate(stats, limits).met is True


class TestLiveGate:
    def test_met_at_every_default_limit(self) -> None:
        """1000 executions with 1% fallbacks and 1% infra errors over 24 h meet the gate."""
        stats = stage_stats("live", fallbacks=10, infrastructure_errors=10)
        gate = evaluate_gate(stats, LIMITS)
        assert gate.next_stage == "a larger live share, or rampdown at 100%"
        assert gate.met is True

    def test_one_execution_short_fails(self) -> None:
        """999 executions are below the minimum of 1000."""
        gate = evaluate_gate(stage_stats("live", executions=999), LIMITS)
        assert not check(gate, "executions").met

    def test_fallback_rate_just_over_the_limit_fails(self) -> None:
        """11 fallbacks in 1000 executions (1.1%) exceed 1%."""
        gate = evaluate_gate(stage_stats("live", fallbacks=11), LIMITS)
        assert not check(gate, "fallback rate").met

    def test_no_comparisons_is_acceptable(self) -> None:
        """In live, comparisons are optional (shadow gave that evidence): none passes."""
        gate = evaluate_gate(stage_stats("live", comparisons=0), LIMITS)
        assert check(gate, "mismatch rate").met
        assert check(gate, "candidate error rate").met
        assert gate.met is True

    def test_candidate_errors_over_the_limit_fail(self) -> None:
        """In live the candidate is legacy: comparisons it could not run count against the
        candidate error rate too."""
        gate = evaluate_gate(stage_stats("live", comparisons=90, candidate_errors=10), LIMITS)
        assert not check(gate, "candidate error rate").met

    def test_mismatches_over_the_limit_fail(self) -> None:
        """Comparisons made in live must still stay within the mismatch rate."""
        gate = evaluate_gate(stage_stats("live", comparisons=100, mismatches=1), LIMITS)
        assert not check(gate, "mismatch rate").met


class TestRampdownGate:
    def test_met_when_only_the_target_ran(self) -> None:
        """Enough executions, all on the target, over 24 h: the gate to complete is met."""
        gate = evaluate_gate(stage_stats("rampdown"), LIMITS)
        assert (gate.next_stage, gate.met) == ("complete", True)

    def test_any_legacy_run_fails(self) -> None:
        """A single run on another backend shows legacy is still in use."""
        gate = evaluate_gate(stage_stats("rampdown", legacy_runs=1), LIMITS)
        assert not check(gate, "other backend runs").met


class TestFinalStages:
    @pytest.mark.parametrize("stage", ["complete", "direct"])
    def test_have_no_gate(self, stage: str) -> None:
        """complete is the last stage and direct runs are no stage: no gate, no checks."""
        gate = evaluate_gate(stage_stats(stage), LIMITS)
        assert (gate.next_stage, gate.met) == (None, None)
