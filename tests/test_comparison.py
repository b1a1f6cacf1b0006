"""Comparing two outcomes of one execution: normalization, differences, ignore rules."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.comparison import compare_outcomes, normalize_outcome
from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    ExecutionInterruptedError,
    InfrastructureError,
    InternalError,
    TurnoutError,
    ValidationError,
)
from turnout.flags import parse_ignore_rule


def envelope(output: Any = 1, **metadata: Any) -> dict[str, Any]:
    return {
        "language": "python",
        "output": output,
        "stdout": "",
        "stderr": "",
        "logs": [],
        "metadata": {
            "executionTime": 5,
            "executionId": "a",
            "backend": "x",
            "outputChannel": "return",
            **metadata,
        },
    }


class TestNormalize:
    def test_timings_ids_and_backend_are_removed(self) -> None:
        """Fields that differ by design never count as differences."""
        a = envelope(executionTime=1, executionId="a", sandboxId="s1", backend="local")
        b = envelope(executionTime=900, executionId="b", sandboxId="s2", backend="e2b")
        assert compare_outcomes(a, b).verdict == "match"

    def test_errors_normalize_to_what_a_caller_sees(self) -> None:
        """An error is compared by what a caller sees of it, printed output included."""
        error = CodeExecutionError("runtime", "ValueError: x", line=3, stdout="p")
        assert normalize_outcome(error) == {
            "error": {
                "type": "CodeExecutionError",
                "kind": "runtime",
                "name": None,
                "message": "ValueError: x",
                "line": 3,
                "field": None,
                "retryable": False,
                "stdout": "p",
                "stderr": "",
            }
        }


class TestDifferences:
    def test_value_difference_has_its_path(self) -> None:
        """A changed nested value is reported at its path, as a value difference."""
        result = compare_outcomes(envelope({"a": [1, 2]}), envelope({"a": [1, 3]}))
        assert [d.to_log()["path"] for d in result.mismatches] == ["$.output.a[1]"]

    def test_missing_and_extra_keys_are_told_apart(self) -> None:
        """A key only the authoritative has is missing; one only the candidate has is extra."""
        result = compare_outcomes(envelope({"a": 1}), envelope({"b": 1}))
        kinds = {d.to_log()["path"]: d.kind for d in result.mismatches}
        assert kinds == {"$.output.a": "missing", "$.output.b": "extra"}

    def test_int_and_float_of_equal_value_match(self) -> None:
        """3 and 3.0 are the same JSON number (JavaScript has no separate integer)."""
        assert compare_outcomes(envelope(3), envelope(3.0)).verdict == "match"

    def test_type_change_is_a_type_difference(self) -> None:
        """A string where a number was is reported as a type difference."""
        [difference] = compare_outcomes(envelope(1), envelope("1")).mismatches
        assert (difference.kind, difference.authoritative_type, difference.candidate_type) == (
            "type",
            "int",
            "str",
        )

    def test_user_code_error_against_success_is_a_mismatch(self) -> None:
        """The user's code failing on one backend where it succeeds on the other is a
        mismatch: both ran it, and the outcomes differ."""
        error = CodeExecutionError("runtime", "NameError: name 'x' is not defined", line=1)
        assert compare_outcomes(envelope(), error).verdict == "mismatch"

    def test_a_refused_input_on_the_candidate_is_a_mismatch(self) -> None:
        """A candidate that refuses what the authoritative backend ran (a timeout above its
        maximum) would break the node after the move: a real mismatch."""
        error = ValidationError("timeout", "300000 ms exceeds backend 'e2b''s maximum")
        assert compare_outcomes(envelope(), error).verdict == "mismatch"

    def test_same_error_on_both_sides_matches(self) -> None:
        """Both backends failing the same way is a match."""
        a = CodeExecutionError("runtime", "ZeroDivisionError: division by zero", line=1)
        b = CodeExecutionError("runtime", "ZeroDivisionError: division by zero", line=1)
        assert compare_outcomes(a, b).verdict == "match"


class TestIgnoreRules:
    def test_ignored_differences_are_counted_apart(self) -> None:
        """Differences under an ignore rule make the verdict `ignored`, not `mismatch`."""
        rule = parse_ignore_rule("$.stdout")
        result = compare_outcomes(
            {**envelope(), "stdout": "a"}, {**envelope(), "stdout": "b"}, [rule]
        )
        assert (result.verdict, len(result.ignored), result.mismatches) == ("ignored", 1, [])

    def test_a_real_mismatch_outweighs_ignored_ones(self) -> None:
        """One unignored difference makes the whole comparison a mismatch."""
        rule = parse_ignore_rule("$.stdout")
        a = {**envelope(1), "stdout": "a"}
        b = {**envelope(2), "stdout": "b"}
        result = compare_outcomes(a, b, [rule])
        assert (result.verdict, len(result.ignored), len(result.mismatches)) == ("mismatch", 1, 1)


COULD_NOT_RUN: list[TurnoutError] = [
    ConfigurationError("E2B_API_KEY is not set"),
    InfrastructureError("E2B rate limit reached"),
    ExecutionInterruptedError("execution interrupted: the worker is shutting down"),
    InternalError("KeyError: 'x'"),
]


class TestCouldNotRun:
    @pytest.mark.parametrize("error", COULD_NOT_RUN, ids=lambda e: type(e).__name__)
    def test_a_candidate_that_could_not_run_is_a_candidate_error(self, error: TurnoutError) -> None:
        """A candidate that failed for infrastructure, configuration or internal reasons
        is `candidate_error` with no differences, never a mismatch."""
        comparison = compare_outcomes(envelope(), error)
        assert comparison.verdict == "candidate_error"
        assert (comparison.mismatches, comparison.ignored) == ([], [])

    @pytest.mark.parametrize("error", COULD_NOT_RUN, ids=lambda e: type(e).__name__)
    def test_an_authoritative_backend_that_could_not_run_is_an_authoritative_error(
        self, error: TurnoutError
    ) -> None:
        """The authoritative backend failing for infrastructure reasons while the
        candidate ran says nothing about parity: `authoritative_error`, no differences."""
        comparison = compare_outcomes(error, envelope())
        assert comparison.verdict == "authoritative_error"
        assert comparison.mismatches == []

    def test_when_neither_could_run_the_candidate_error_counts(self) -> None:
        """Both failing to run is a candidate error: the candidate did not run."""
        comparison = compare_outcomes(InfrastructureError("a"), ConfigurationError("b"))
        assert comparison.verdict == "candidate_error"
