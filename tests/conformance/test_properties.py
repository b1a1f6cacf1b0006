"""The property checks themselves, with a scripted node runner instead of a backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from turnout.conformance.expectations import Observation
from turnout.conformance.properties import (
    as_javascript_sees_it,
    check_context_round_trip,
    check_printed_text,
    check_returned_value,
)

from .support import failure, success


def returning(output: Any = None, stdout: str = "") -> Any:
    def run(config: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
        return success(output, stdout=stdout)

    return run


class TestChecks:
    def test_a_context_that_comes_back_passes(self) -> None:
        """The round trip holds when the output equals the context."""
        check_context_round_trip(returning({"a": [1]}), "python", {"a": [1]})

    def test_a_changed_context_fails_with_the_difference(self) -> None:
        """A value that changed on the way is reported with its path."""
        with pytest.raises(AssertionError, match=r'output\["a"\]'):
            check_context_round_trip(returning({"a": 2}), "python", {"a": 1})

    def test_javascript_may_return_whole_floats_as_integers(self) -> None:
        """3.0 given to JavaScript comes back as 3: the language has one number type."""
        check_returned_value(returning([3]), "javascript", [3.0])

    def test_python_must_keep_whole_floats(self) -> None:
        """Python keeps 3.0 a float, so 3 is a failure there."""
        with pytest.raises(AssertionError):
            check_returned_value(returning([3]), "python", [3.0])

    def test_printed_text_must_come_back_exactly(self) -> None:
        """stdout that differs from what was written fails."""
        with pytest.raises(AssertionError, match="stdout"):
            check_printed_text(returning(stdout="a\r\n"), "python", "a\n")

    def test_an_error_fails_the_property(self) -> None:
        """An execution error is a failed example, saying what the error was."""

        def erroring(config: Mapping[str, Any], context: Mapping[str, Any]) -> Observation:
            return failure("runtime", "boom")

        with pytest.raises(AssertionError, match="expected success"):
            check_context_round_trip(erroring, "python", {})

    def test_the_javascript_view_keeps_fractional_floats(self) -> None:
        """Only whole floats become integers in the JavaScript view."""
        assert as_javascript_sees_it({"a": [1.0, 1.5, True]}) == {"a": [1, 1.5, True]}
