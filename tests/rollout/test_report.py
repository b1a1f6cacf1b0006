"""Tests for counting per environment and stage (turnout.rollout.report and .stats)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from turnout.rollout import DIRECT, Thresholds, build_report, render_text

from .support import ENV, LEGACY, TARGET, compared, decision, executed, lines, shim_event


class TestLineCounts:
    def test_counts_lines_events_and_skipped(self) -> None:
        """Every line is counted; the ones that are not rollout events are skipped."""
        junk = ["not json\n", json.dumps({"event": "flags_reload_failed"}) + "\n", "\n"]
        report = build_report([*lines(executed(), compared()), *junk])
        assert (report.lines, report.events, report.skipped) == (5, 2, 3)

    def test_a_malformed_event_is_reported_with_its_field(self) -> None:
        """A rollout event with a field of the wrong type is not counted: the report says
        how many there were, quotes the line and the field, and prints it."""
        report = build_report(lines(executed(), executed(role="spectator")))
        assert (report.events, report.skipped, report.malformed) == (1, 1, 1)
        [problem] = report.problems
        assert problem.startswith("line 2: code_node_executed: field 'role'")
        assert "1 malformed turnout events" in render_text(report)

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


def at(hours: float) -> str:
    """A timestamp `hours` after T0."""
    moment = datetime(2026, 1, 10, 8, tzinfo=UTC) + timedelta(hours=hours)
    return moment.isoformat().replace("+00:00", "Z")


class TestSteps:
    def test_a_flag_edit_splits_a_stage_into_steps(self) -> None:
        """25 h at live 50% then 15 s at live 100% are two blocks; the 100% one has 15 s."""
        half = {"flags_hash": "aaaa", "stage_share": 50}
        full = {"flags_hash": "bbbb", "stage_share": 100}
        report = build_report(
            lines(
                executed(TARGET, stage="live", timestamp=at(0), **half),
                executed(TARGET, stage="live", timestamp=at(25), **half),
                {"event": "flags_reloaded", "timestamp": at(25), "environments": [ENV]},
                executed(TARGET, stage="live", timestamp=at(25), **full),
                executed(TARGET, stage="live", timestamp=at(25 + 15 / 3600), **full),
            ),
            thresholds=Thresholds(min_executions=1),
        )
        hours = {s.flags_hash: s.hours for s in report.stages(ENV)}
        assert hours == {"aaaa": 25.0, "bbbb": pytest.approx(15 / 3600)}
        newest = next(s for s in report.stages(ENV) if s.flags_hash == "bbbb")
        checks = {c.name: c.met for c in report.gate(newest).checks}
        assert checks["hours"] is False
        assert report.reloads == 1
        assert report.configurations(ENV) == ["aaaa", "bbbb"]

    def test_merge_steps_counts_a_stage_across_edits(self) -> None:
        """Asked to merge, the configurations of a stage form one block, and it says so."""
        report = build_report(
            lines(
                executed(TARGET, stage="live", timestamp=at(0), flags_hash="aaaa"),
                executed(TARGET, stage="live", timestamp=at(25), flags_hash="bbbb"),
            ),
            merge_configurations=True,
        )
        [stats] = report.stages(ENV)
        assert (stats.executions, stats.hours, stats.flags_hashes) == (2, 25.0, {"aaaa", "bbbb"})
        assert "configurations merged" in render_text(report)

    def test_blocks_are_named_by_configuration_when_a_stage_has_several(self) -> None:
        """The JSON names each block of a stage that ran under two configurations."""
        report = build_report(
            lines(
                executed(TARGET, stage="live", flags_hash="aaaa"),
                executed(TARGET, stage="live", flags_hash="bbbb"),
                executed(stage="shadow", flags_hash="bbbb"),
            )
        )
        stages = report.to_dict()["environments"][ENV]["stages"]
        assert sorted(stages) == ["live [flags aaaa]", "live [flags bbbb]", "shadow"]


class TestOverridesAndKillSwitch:
    def test_override_executions_are_a_block_without_a_gate(self) -> None:
        """Executions an override decided are counted apart and never meet a rollout gate."""
        report = build_report(
            lines(
                executed(TARGET, stage="live", decided_by="tenant_override"),
                executed(TARGET, stage="live", decided_by="rollout"),
            ),
            thresholds=Thresholds(min_executions=1, min_hours=0),
        )
        blocks = {report.label(s): s for s in report.stages(ENV)}
        assert sorted(blocks) == ["live", "live (override)"]
        assert blocks["live"].executions == 1
        override_gate = report.gate(blocks["live (override)"])
        assert override_gate.met is None
        assert override_gate.next_stage is None

    def test_an_override_alone_gives_no_live_block(self) -> None:
        """A live step whose executions all came from an override has no gate to meet."""
        report = build_report(
            lines(*[executed(TARGET, stage="live", decided_by="tenant_override")] * 3),
            thresholds=Thresholds(min_executions=1, min_hours=0),
        )
        assert [report.gate(s).met for s in report.stages(ENV)] == [None]

    def test_kill_switch_executions_are_no_live_evidence(self) -> None:
        """Executions under the kill switch are counted apart, not as live executions."""
        killed = decision("live", killed=True)
        report = build_report(
            lines(executed(TARGET, **{**killed, "stage": "live"})),
            thresholds=Thresholds(min_executions=1, min_hours=0),
        )
        [stats] = report.stages(ENV)
        assert (stats.executions, stats.killed_executions) == (0, 1)
        assert {c.name: c.met for c in report.gate(stats).checks}["executions"] is False
        assert "under the kill switch" in render_text(report)

    def test_rampdown_sees_an_override_running_on_legacy(self) -> None:
        """Under the same flags, an override's legacy runs fail rampdown's other-backend check."""
        same = {"flags_hash": "cccc"}
        report = build_report(
            lines(
                executed(TARGET, stage="rampdown", **same),
                executed(LEGACY, stage="off", decided_by="tenant_override", **same),
            )
        )
        rampdown = next(s for s in report.stages(ENV) if s.stage == "rampdown")
        checks = {c.name: c.value for c in report.gate(rampdown).checks}
        assert checks["other backend runs"] == 1


class TestCoverage:
    def test_counts_per_node_compared_not_marked_not_sampled_and_shed(self) -> None:
        """Each node's executions say whether and why they were compared."""
        report = build_report(
            lines(
                executed(code_sha256="aa", shadow_skipped="not_marked"),
                executed(code_sha256="bb", shadow_skipped="not_sampled"),
                executed(code_sha256="cc"),
                compared(code_sha256="cc"),
                {**shim_event("shadow_shed", stage="shadow"), "code_sha256": "dd"},
            )
        )
        coverage = report.environments[ENV]["shadow"].to_dict()["coverage"]
        assert coverage["aa"]["not_marked"] == 1
        assert coverage["bb"]["not_sampled"] == 1
        assert coverage["cc"]["compared"] == 1
        assert coverage["dd"]["shed"] == 1

    def test_never_compared_share_fails_the_live_gate(self) -> None:
        """33 compared matches do not meet the gate while a node that was never compared
        serves most of the live traffic."""
        events = [executed(TARGET, stage="live", code_sha256="ok") for _ in range(33)]
        events += [compared(stage="live", code_sha256="ok") for _ in range(33)]
        events += [
            executed(TARGET, stage="live", code_sha256="env", shadow_skipped="not_marked")
            for _ in range(40)
        ]
        report = build_report(lines(*events), thresholds=Thresholds(min_executions=1, min_hours=0))
        [stats] = report.stages(ENV)
        checks = {c.name: c for c in report.gate(stats).checks}
        assert checks["mismatch rate"].met is True
        assert checks["never-compared share"].value == pytest.approx(40 / 73)
        assert checks["never-compared share"].met is False
        assert "node env: 40 executions (40 not marked)" in render_text(report)

    def test_a_node_compared_in_shadow_counts_as_compared_in_live(self) -> None:
        """Coverage is the environment's: live traffic of a node shadow compared is covered."""
        report = build_report(
            lines(
                compared(stage="shadow", code_sha256="n1"),
                executed(TARGET, stage="live", code_sha256="n1"),
            )
        )
        live = report.environments[ENV]["live"]
        assert live.never_compared_executions(report.compared_nodes(ENV)) == 0

    def test_shed_rate_is_gated(self) -> None:
        """Shadows shed for lack of capacity count against their own limit."""
        events = [compared() for _ in range(3)] + [shim_event("shadow_shed", stage="shadow")]
        report = build_report(lines(*events))
        checks = {c.name: c for c in report.gate(report.environments[ENV]["shadow"]).checks}
        assert checks["shed rate"].value == pytest.approx(0.25)
        assert checks["shed rate"].met is False


class TestLedger:
    def test_accepted_divergences_are_shown_with_reason_and_owner(self) -> None:
        """The report lists each accepted divergence the comparisons met, by node, with
        its reason and owner, and counts it apart from mismatches."""
        entry = {"path": "$.output.host", "rule": "$.output.host", "owner": "ops"}
        report = build_report(
            lines(
                *[
                    compared(
                        "ignored",
                        accepted_count=1,
                        accepted=[{**entry, "reason": "host names differ by design"}],
                    )
                    for _ in range(2)
                ]
            )
        )
        stats = report.environments[ENV]["shadow"]
        assert (stats.mismatches, stats.accepted_differences) == (0, 2)
        assert (
            "accepted divergence: node c0dec0dec0dec0de $.output.host (2): host names differ "
            "by design (owner ops)"
        ) in render_text(report)
