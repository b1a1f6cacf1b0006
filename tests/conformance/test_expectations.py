"""Matching observations against expectations: exact values, shapes, streams, errors, time."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from turnout.backend import truncation_marker
from turnout.conformance.case_schema import Expectation, Shape
from turnout.conformance.expectations import Observation, check, is_iso_datetime, shape_problems

from .support import CAPABILITIES, failure, success


def problems(expect: dict[str, Any], observation: Observation, **context: Any) -> list[str]:
    return check(
        Expectation.model_validate(expect),
        observation,
        context=context,
        capabilities=CAPABILITIES,
    )


class TestShape:
    def test_an_iso_datetime_with_offset_or_z_is_accepted(self) -> None:
        """Both JavaScript's toISOString and Python's isoformat are ISO date-times."""
        assert is_iso_datetime("2024-05-01T12:00:00.000Z")
        assert is_iso_datetime("2024-05-01T12:00:00.123456+00:00")

    def test_a_date_alone_is_not_a_datetime(self) -> None:
        """`format = iso-datetime` needs a time."""
        assert not is_iso_datetime("2024-05-01")

    def test_a_shape_checks_type_length_and_items(self) -> None:
        """An array shape reports its first bad item."""
        shape = Shape(type="array", length=3, items=Shape(type="integer"))
        assert shape_problems(shape, [1, "2", 3]) == ["output[1]: expected integer, got string"]

    def test_unexpected_keys_are_reported_unless_allowed(self) -> None:
        """An object shape with properties refuses other keys by default."""
        shape = Shape(type="object", properties={"a": Shape()})
        assert shape_problems(shape, {"a": 1, "b": 2}) == ["output: unexpected keys ['b']"]

    def test_a_pattern_must_match_the_whole_string(self) -> None:
        """pattern is a full match, so `x+` refuses `xxy`."""
        assert shape_problems(Shape(type="string", pattern="x+"), "xxy")


class TestCheck:
    def test_an_exact_output_passes(self) -> None:
        """The same value, type included, meets `output`."""
        assert problems({"output": {"a": 1}}, success({"a": 1})) == []

    def test_output_json_expresses_null(self) -> None:
        """output_json = "null" expects a null output (TOML has no null)."""
        assert problems({"output_json": "null"}, success(0)) == [
            "output: expected null (null), got 0 (integer)"
        ]

    def test_output_equals_context_compares_with_a_context_value(self) -> None:
        """The output must equal the (possibly generated) context value named."""
        assert problems({"output_equals_context": "big"}, success("xx"), big="xx") == []

    def test_an_unexpected_error_is_reported(self) -> None:
        """Expecting success and getting an error says what the error was."""
        found = problems({"output": 1}, failure("runtime", "ValueError: boom"))
        assert found == ["expected success, got CodeExecutionError (runtime): ValueError: boom"]

    def test_the_wrong_error_kind_is_reported(self) -> None:
        """An expected timeout that ends as a runtime error fails."""
        found = problems({"error": {"kind": "timeout"}}, failure("runtime"))
        assert found == [
            "expected CodeExecutionError (timeout), got CodeExecutionError (runtime): boom"
        ]

    def test_the_error_line_is_checked(self) -> None:
        """`line` must be the user's line exactly."""
        found = problems({"error": {"kind": "runtime", "line": 3}}, failure(line=4))
        assert found == ["error line: expected 3, got 4"]

    def test_line_between_accepts_a_range(self) -> None:
        """`line_between` accepts any line inside the range."""
        assert problems({"error": {"line_between": [1, 3]}}, failure(line=2)) == []

    def test_stdout_contains_applies_to_an_errors_captured_stdout(self) -> None:
        """Stream expectations read the error's stdout when an error is expected."""
        observation = failure(stdout="started\n")
        assert problems({"error": {}, "stdout_contains": ["started"]}, observation) == []

    def test_stdout_not_contains_is_checked(self) -> None:
        """Text that must not appear is reported when it does."""
        assert problems({"stdout_not_contains": ["secret"]}, success(stdout="a secret\n"))

    def test_a_truncated_stream_ends_with_the_marker_at_the_declared_cap(self) -> None:
        """stdout cut at the declared max_output_bytes with the marker meets stdout_truncated."""
        text = "x" * CAPABILITIES.max_output_bytes + truncation_marker("stdout", 1024)
        assert problems({"stdout_truncated": True}, success(stdout=text, truncated=True)) == []

    def test_a_stream_cut_elsewhere_is_not_truncated_at_the_cap(self) -> None:
        """Text cut without the marker (output lost) does not meet stdout_truncated."""
        found = problems({"stdout_truncated": True}, success(stdout="x" * 100))
        assert found[0].startswith("stdout does not end with the marker")

    def test_metadata_truncated_must_agree_with_the_streams(self) -> None:
        """metadata.truncated true while no stream was cut is a mismatch."""
        found = problems({"stdout_truncated": False}, success(stdout="x", truncated=True))
        assert found == ["metadata.truncated is True but the streams were not cut"]

    def test_wall_time_bounds_are_checked(self) -> None:
        """A run slower than max_wall_ms fails, saying how long it took."""
        found = problems({"max_wall_ms": 5}, success(1, wall_ms=12))
        assert found == ["took 12 ms, more than the 5 ms allowed"]

    def test_a_failing_bound_shows_the_provisioning_claimed_beyond_the_cap(self) -> None:
        """When the backend claimed more provisioning than was left out, both are shown."""
        observation = replace(
            success(1, wall_ms=9000), provisioning_ms=10000, provisioning_reported_ms=15000
        )
        assert problems({"max_wall_ms": 4500}, observation) == [
            "took 9000 ms, more than the 4500 ms allowed (after 10000 ms of provisioning, not "
            "counted: the backend reported 15000 ms, and at most 10000 ms is left out)"
        ]

    def test_an_overdue_call_is_the_one_problem(self) -> None:
        """A call the runner gave up on fails for that, whatever else was expected."""
        observation = Observation(None, None, 3000, overdue="no result within 3000 ms")
        assert problems({"output": 1}, observation) == ["no result within 3000 ms"]

    def test_wrapping_must_match_output_variable(self) -> None:
        """An envelope expected under outputVariable must be wrapped under that name."""
        found = problems({"wrapped_as": "summary"}, success(1))
        assert found == ["envelope wrapping: expected 'summary', got None"]

    def test_warnings_are_matched_by_substring(self) -> None:
        """warnings_contain finds its text inside any warning."""
        observation = success(1, warnings=["unknown config field 'memoryLimit' ignored"])
        assert problems({"warnings_contain": ["memoryLimit"]}, observation) == []
