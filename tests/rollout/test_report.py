"""Tests for counting per environment and stage (turnout.rollout.report and .stats)."""

from __future__ import annotations

import json

from turnout.rollout import DIRECT, build_report

from .support import ENV, LEGACY, TARGET, compared, decision, executed, lines, shim_event


class TestLineCounts:
    def test_counts_lines_events_and_skipped(self) -> None:
        """Every line is counted; the ones that are not rollout events are skipped."""
        junk = ["not json\n", json.dumps({"event": "flags_reloaded"}) + "\n", "\n"]
        report = build_report([*lines(executed(), compared()), *junk])
        assert (report.lines, report.events, report.skipped) == (5, 2, 3)

    def test_environment_filter_keeps_one_environment(self) -> None:
        """With `environment`, events of other environments are neither counted nor skipped."""
        report = build_report(
            lines(executed(), executed(environment="staging")), environment="staging"
        )
        assert list(report.environments) == ["staging"]
        assert (report.events, report.skipped) == (1, 0)

    def test_groups_by_environment_and_stage(self) -> None:
        """Events are counted under their own environment and decision stage."""
        report = build_report(
            lines(
                executed(stage="shadow"),
                executed(TARGET, stage="live"),
                executed(environment="staging", stage="shadow"),
            )
        )
        assert {env: sorted(stages) for env, stages in report.environments.items()} == {
            ENV: ["live", "shadow"],
            "staging": ["shadow"],
        }

    def test_runs_without_a_decision_are_direct(self) -> None:
        """A run chosen by `backend=` (no stage field) is counted under `direct`."""
        report = build_report(lines(executed(role="direct", stage=None)))
        assert report.environments[ENV][DIRECT].executions == 1

    def test_stages_come_in_order_of_advancement(self) -> None:
        """`stages()` lists stages off -> complete, then direct, whatever the log order."""
        report = build_report(
            lines(
                executed(role="direct", stage=None),
                executed(TARGET, stage="rampdown"),
                executed(stage="off"),
                executed(stage="shadow"),
            )
        )
        assert [s.stage for s in report.stages(ENV)] == ["off", "shadow", "rampdown", DIRECT]


class TestExecutions:
    def test_authoritative_and_direct_runs_are_executions(self) -> None:
        """The caller's executions are the authoritative and direct runs."""
        report = build_report(
            lines(executed(), executed(role="direct", stage="shadow"), executed(TARGET, "shadow"))
        )
        stats = report.environments[ENV]["shadow"]
        assert (stats.executions, stats.shadow_runs) == (2, 1)

    def test_a_fallback_run_is_not_a_second_execution(self) -> None:
        """A fallback retries an execution its failed authoritative run already counted."""
        report = build_report(
            lines(
                executed(TARGET, stage="live", error="InfrastructureError", kind="infrastructure"),
                shim_event("fallback_to_legacy"),
                executed(LEGACY, "fallback", stage="live"),
            )
        )
        stats = report.environments[ENV]["live"]
        assert (stats.executions, stats.fallbacks, stats.fallback_rate) == (1, 1, 1.0)
        assert stats.backends[LEGACY].runs == 1


class TestBackendTallies:
    def test_user_and_infrastructure_errors_are_apart(self) -> None:
        """Each backend's runs are split into ok, user errors, infrastructure errors, invalid."""
        report = build_report(
            lines(
                executed(TARGET, "shadow"),
                executed(TARGET, "shadow", error="CodeExecutionError", kind="runtime"),
                executed(TARGET, "shadow", error="InfrastructureError", kind="infrastructure"),
                executed(TARGET, "shadow", error="ValidationError"),
            )
        )
        tally = report.environments[ENV]["shadow"].backends[TARGET]
        assert (tally.runs, tally.shadow_runs, tally.ok) == (4, 4, 1)
        assert (tally.user_errors, tally.infrastructure_errors, tally.invalid) == (1, 1, 1)
        assert (tally.user_error_rate, tally.infrastructure_error_rate) == (0.25, 0.25)

    def test_rates_of_a_backend_without_runs_are_unknown(self) -> None:
        """A rate over zero runs is None, not 0: there is no evidence either way."""
        report = build_report(lines(compared()))
        stats = report.environments[ENV]["shadow"]
        assert stats.target is None
        assert stats.fallback_rate is None


class TestComparisons:
    def test_counts_verdicts_and_differences(self) -> None:
        """Comparisons are counted by verdict, and their differences summed apart."""
        report = build_report(
            lines(
                compared("match"),
                compared("ignored", ignored_count=2),
                compared("mismatch", paths=("$.output.a", "$.stdout"), ignored_count=1),
            )
        )
        stats = report.environments[ENV]["shadow"]
        assert (stats.comparisons, stats.matches, stats.ignored, stats.mismatches) == (3, 1, 1, 1)
        assert (stats.ignored_differences, stats.mismatched_differences) == (3, 2)
        assert stats.mismatch_rate == 1 / 3

    def test_collects_mismatch_paths(self) -> None:
        """The paths of mismatches are counted, most frequent first, for the operator."""
        report = build_report(
            lines(
                compared("mismatch", paths=("$.output.a",)),
                compared("mismatch", paths=("$.output.a", "$.stderr")),
            )
        )
        paths = report.environments[ENV]["shadow"].to_dict()["top_mismatch_paths"]
        assert paths == {"$.output.a": 2, "$.stderr": 1}

    def test_candidate_and_authoritative_errors_are_counted_apart(self) -> None:
        """A side that could not run is counted as its own outcome: not a comparison, not a
        mismatch, and its paths (of older events) are not mismatched paths."""
        report = build_report(
            lines(
                compared("match"),
                compared("mismatch", paths=("$.output",)),
                compared("candidate_error", candidate_outcome="ConfigurationError"),
                compared(
                    "mismatch",
                    paths=("$.error", "$.output", "$.stdout"),
                    candidate_outcome="ConfigurationError",
                ),
                compared("authoritative_error", authoritative_outcome="InfrastructureError"),
            )
        )
        stats = report.environments[ENV]["shadow"]
        assert (stats.comparisons, stats.mismatches) == (2, 1)
        assert (stats.candidate_errors, stats.authoritative_errors) == (2, 1)
        assert stats.mismatch_rate == 1 / 2
        assert stats.candidate_error_rate == 2 / 5
        assert dict(stats.mismatch_paths) == {"$.output": 1}
        data = stats.to_dict()
        assert (data["candidate_errors"], data["authoritative_errors"]) == (2, 1)
        assert data["candidate_error_rate"] == 2 / 5

    def test_counts_shed_and_failed_shadows(self) -> None:
        """Shed shadows and comparison failures are counted, not taken as comparisons."""
        report = build_report(lines(shim_event("shadow_shed"), shim_event("shadow_failed")))
        stats = report.environments[ENV]["live"]
        assert (stats.shed, stats.shadow_failures, stats.comparisons) == (1, 1, 0)


class TestTargetBackend:
    def test_shadow_target_is_the_candidate(self) -> None:
        """In shadow the target is the backend compared, not the one answering."""
        report = build_report(lines(executed(stage="shadow")))
        assert report.environments[ENV]["shadow"].target_backend == TARGET

    def test_live_target_is_the_authoritative_backend(self) -> None:
        """From live on the target is the backend answering."""
        report = build_report(lines(executed(TARGET, stage="live")))
        assert report.environments[ENV]["live"].target_backend == TARGET

    def test_off_has_no_target(self) -> None:
        """In off the target does not run, so there is none."""
        report = build_report(lines(executed(stage="off")))
        assert report.environments[ENV]["off"].target_backend is None

    def test_killed_legacy_makes_the_authoritative_backend_the_target(self) -> None:
        """With the kill switch on, even shadow's answering backend is the target."""
        event = {**executed(TARGET, stage="shadow"), **decision("shadow", killed=True)}
        report = build_report(lines(event))
        assert report.environments[ENV]["shadow"].target_backend == TARGET


class TestWindow:
    def test_hours_span_first_to_last_event(self) -> None:
        """The observed window runs from the earliest to the latest event, in any order."""
        report = build_report(
            lines(
                executed(timestamp="2026-01-10T20:00:00Z"),
                executed(timestamp="2026-01-10T08:00:00Z"),
                executed(timestamp="2026-01-10T14:00:00Z"),
            )
        )
        assert report.environments[ENV]["shadow"].hours == 12.0

    def test_events_without_a_timestamp_leave_the_window_unknown(self) -> None:
        """Without readable timestamps the window, and so the hours, are unknown."""
        report = build_report(lines(executed(timestamp="soon")))
        assert report.environments[ENV]["shadow"].hours is None


class TestJson:
    def test_one_object_with_gates_per_stage(self) -> None:
        """`to_dict()` nests stages under environments, each with its gate, and is JSON."""
        report = build_report(lines(executed(), compared()), source="x.log")
        data = json.loads(json.dumps(report.to_dict()))
        shadow = data["environments"][ENV]["stages"]["shadow"]
        assert data["source"] == "x.log"
        assert (shadow["executions"], shadow["comparisons"]) == (1, 1)
        assert shadow["gate"]["next"] == "live"
        assert shadow["backends"][LEGACY]["runs"] == 1
