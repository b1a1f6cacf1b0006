"""`turnout chaos`: the fault spec, the seeded plan, the properties and the command line.
The 100-execution run CI makes is in test_chaos_ci.py."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

import pytest
from turnout_devtools.chaos import DEFAULT_SPEC, ChaosReport, FaultSpec, plan
from turnout_devtools.chaos.report import ExecutionRecord, classification_problem, spread_ms
from turnout_devtools.cli import chaos as chaos_command

from turnout.errors import ValidationError


def record(**changes: Any) -> ExecutionRecord:
    """An execution record of an `ok` workload that succeeded, with `changes` applied."""
    base: dict[str, Any] = {
        "index": 7,
        "language": "python",
        "workload": "ok",
        "fault": None,
        "timeout_ms": 10_000,
        "wall_ms": 500.0,
        "outcome": "ok",
    }
    return ExecutionRecord(**{**base, **changes})


def infrastructure(**changes: Any) -> ExecutionRecord:
    """A record that ended in a retryable InfrastructureError during the run."""
    base: dict[str, Any] = {
        "outcome": "error",
        "error_type": "InfrastructureError",
        "error_kind": "infrastructure",
        "retryable": True,
        "started": True,
    }
    return record(**{**base, **changes})


def empty_report(**changes: Any) -> ChaosReport:
    """A report of a run with one successful execution and nothing wrong."""
    report = ChaosReport(
        executions=1,
        concurrency=1,
        seed=0,
        spec=FaultSpec({}),
        max_sandboxes=1,
        server="test",
        records=[record(index=0)],
    )
    for name, value in changes.items():
        setattr(report, name, value)
    return report


class TestFaultSpec:
    def test_the_default_spec_combines_to_ten_percent(self) -> None:
        """The default spec's five kinds add up to a 10 % combined fault rate."""
        assert FaultSpec.parse(DEFAULT_SPEC).total == pytest.approx(0.10)

    def test_none_means_no_faults(self) -> None:
        """`none` parses to a spec with no rates."""
        assert FaultSpec.parse("none").rates == {}

    def test_an_unknown_kind_is_a_validation_error_naming_the_option(self) -> None:
        """A kind the server cannot inject is refused, naming --faults."""
        with pytest.raises(ValidationError) as caught:
            FaultSpec.parse("create_500=1%")
        assert caught.value.field == "--faults"

    def test_rates_above_one_hundred_percent_are_refused(self) -> None:
        """Rates that add up to more than 100 % cannot be drawn per execution."""
        with pytest.raises(ValidationError, match="add up to"):
            FaultSpec.parse("create_429=60%,drop_stream=50%")

    def test_an_item_without_a_percent_sign_is_refused(self) -> None:
        """`drop_stream=2` (no %) is ambiguous and refused."""
        with pytest.raises(ValidationError, match="KIND=PERCENT"):
            FaultSpec.parse("drop_stream=2")

    def test_describe_round_trips(self) -> None:
        """A described spec parses back to the same rates."""
        spec = FaultSpec.parse(DEFAULT_SPEC)
        assert FaultSpec.parse(spec.describe()).rates == spec.rates


class TestPlan:
    def test_the_same_seed_gives_the_same_plan(self) -> None:
        """The plan is a pure function of (executions, spec, seed)."""
        spec = FaultSpec.parse(DEFAULT_SPEC)
        assert plan(200, spec, 5) == plan(200, spec, 5)

    def test_different_seeds_give_different_plans(self) -> None:
        """Another seed arms other executions."""
        spec = FaultSpec.parse(DEFAULT_SPEC)
        assert plan(200, spec, 5) != plan(200, spec, 6)

    def test_faults_are_armed_at_the_specified_rate(self) -> None:
        """Over 20 000 executions, about 10 % arm a fault (within one point)."""
        planned = plan(20_000, FaultSpec.parse(DEFAULT_SPEC), 1)
        armed = sum(1 for execution in planned if execution.fault is not None)
        assert 0.09 < armed / len(planned) < 0.11

    def test_every_workload_and_language_occurs(self) -> None:
        """A 1 000-execution plan mixes all workloads in both languages."""
        planned = plan(1000, FaultSpec({}), 0)
        seen = Counter((execution.workload, execution.language) for execution in planned)
        assert len(seen) == 6


class TestClassification:
    def test_a_retryable_infrastructure_error_is_acceptable_for_any_workload(self) -> None:
        """A fault may hit any execution: a retryable InfrastructureError is never wrong."""
        assert classification_problem(infrastructure(workload="timeout")) is None

    def test_a_non_retryable_infrastructure_error_is_a_violation(self) -> None:
        """An infrastructure failure marked not retryable would lose the execution."""
        assert classification_problem(infrastructure(retryable=False)) is not None

    def test_a_user_error_must_be_a_runtime_code_error_not_retryable(self) -> None:
        """Code that raises ends as CodeExecutionError (runtime), not retryable."""
        correct = record(
            workload="user_error",
            outcome="error",
            error_type="CodeExecutionError",
            error_kind="runtime",
            retryable=False,
        )
        assert classification_problem(correct) is None

    def test_a_code_error_for_a_successful_workload_is_a_violation(self) -> None:
        """A killed sandbox reported as the user's fault is exactly the misclassification."""
        wrong = record(
            outcome="error", error_type="CodeExecutionError", error_kind="runtime", retryable=False
        )
        assert classification_problem(wrong) is not None

    def test_a_timeout_workload_that_succeeds_is_a_violation(self) -> None:
        """Code that never ends cannot succeed."""
        assert classification_problem(record(workload="timeout")) is not None

    def test_a_wrong_output_is_a_violation(self) -> None:
        """A result that is not the execution's own is never acceptable."""
        assert classification_problem(record(output_ok=False)) is not None


class TestReportProperties:
    def test_a_clean_run_holds_every_property(self) -> None:
        """No hang, no misclassification, no leak, no overrun: the report is ok."""
        assert empty_report().ok

    def test_a_leaked_sandbox_violates_the_leak_property(self) -> None:
        """A sandbox alive after aclose() is a leak."""
        problems = empty_report(leaked_sandboxes=["abc"]).property_problems()
        assert problems["zero leaked sandboxes"] == ["sandbox abc still alive"]

    def test_a_missing_record_violates_accounting(self) -> None:
        """Fewer records than executions means an execution was lost."""
        report = empty_report(executions=2)
        assert report.property_problems()["every execution accounted for"]

    def test_time_before_the_code_starts_does_not_count_against_the_timeout(self) -> None:
        """11.5 s in all, of which 2 s before the code started, is within 10 s + 1 s."""
        report = empty_report(records=[record(index=0, wall_ms=11_500.0, code_start_ms=2_000.0)])
        assert report.ok

    def test_a_call_past_its_timeout_after_its_code_started_is_an_overrun(self) -> None:
        """11.5 s after the code started is past 10 s + 1 s."""
        report = empty_report(records=[record(index=0, wall_ms=12_000.0, code_start_ms=500.0)])
        assert len(report.overruns()) == 1

    def test_without_any_start_time_the_whole_call_counts(self) -> None:
        """Without a code start or reported acquisition the whole wall time counts."""
        report = empty_report(records=[record(index=0, wall_ms=11_500.0)])
        assert len(report.overruns()) == 1

    def test_loading_the_runtime_counts_as_getting_ready(self) -> None:
        """12.5 s in all: ready at 1 s, runtime loaded 1.5 s later, then 10 s: within bounds."""
        timed = record(
            index=0, wall_ms=12_500.0, ready_ms=1_000.0, backend_timings_ms={"setup": 1_500.0}
        )
        assert empty_report(records=[timed]).overruns() == []

    def test_a_late_call_after_the_runtime_loaded_is_still_an_overrun(self) -> None:
        """Ready at 1 s, runtime loaded at 1.2 s, 12.5 s in all: 11.3 s is past 10 s + 1 s."""
        late = record(
            index=0, wall_ms=12_500.0, ready_ms=1_000.0, backend_timings_ms={"setup": 200.0}
        )
        assert len(empty_report(records=[late]).overruns()) == 1

    def test_a_call_whose_code_never_ran_has_no_timeout_to_keep(self) -> None:
        """An infrastructure error raised before any user code ran is bounded by the create
        budget and the runtime's load, not by the node's timeout: never an overrun."""
        before = infrastructure(index=0, wall_ms=20_000.0, ready_ms=1_000.0, started=False)
        during = infrastructure(index=1, wall_ms=20_000.0, ready_ms=1_000.0, started=True)
        assert empty_report(records=[before, during], executions=2).overruns() == [during]

    def test_latency_figures_are_nearest_rank(self) -> None:
        """The latency figures of 1..10 ms are p50 5, p95 10 and max 10 (observed values)."""
        values = [float(value) for value in range(1, 11)]
        assert spread_ms(values) == {"p50": 5.0, "p95": 10.0, "max": 10.0}

    def test_latency_figures_of_no_call_are_zero(self) -> None:
        """A run with no call reports its latency figures as 0, not an error."""
        assert empty_report(records=[]).latency_ms() == {"p50": 0.0, "p95": 0.0, "max": 0.0}


def chaos_parser() -> argparse.ArgumentParser:
    """A `turnout` parser with only the chaos command registered."""
    parser = argparse.ArgumentParser(prog="turnout")
    chaos_command.register(parser.add_subparsers(dest="command", required=True))
    return parser


class TestChaosCommand:
    def test_help_renders(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`turnout chaos --help` prints the options (the default spec included) and exits 0."""
        with pytest.raises(SystemExit) as caught:
            chaos_parser().parse_args(["chaos", "--help"])
        assert caught.value.code == 0
        assert "create_429=3%" in capsys.readouterr().out

    def test_an_invalid_spec_exits_2_without_starting_a_server(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--faults bogus` is invalid input: exit status 2 and a JSON error."""
        arguments = chaos_parser().parse_args(["chaos", "--faults", "bogus", "--json"])
        assert arguments.handler(arguments) == 2
        assert json.loads(capsys.readouterr().out)["error"]["field"] == "--faults"
