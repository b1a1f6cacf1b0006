"""Normalization and comparison of envelopes across backends."""

from __future__ import annotations

import datetime
import time

import pytest

from turnout.conformance.differential import IgnorePath, apply_ignores, normalize
from turnout.normalization import describe_differences

from .support import failure, success

NOW = time.time()


def iso(seconds_from_now: float) -> str:
    moment = datetime.datetime.fromtimestamp(NOW + seconds_from_now, tz=datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


class TestNormalize:
    def test_timings_and_ids_are_removed(self) -> None:
        """Two runs differing only in executionTime, ids and backend normalize equal."""
        one = success(1, executionTime=5, executionId="a", sandboxId="s1", backend="x")
        two = success(1, executionTime=900, executionId="b", sandboxId="s2", backend="y")
        assert normalize(one, now=NOW) == normalize(two, now=NOW)

    def test_a_current_timestamp_becomes_a_shape_token(self) -> None:
        """An ISO date-time within a day of now compares by shape only."""
        normalized = normalize(success({"at": iso(-3)}), now=NOW)
        assert normalized["output"] == {"at": "<now:iso-datetime>"}

    def test_an_old_timestamp_is_kept(self) -> None:
        """A fixed date in the data is compared exactly."""
        normalized = normalize(success("2020-01-02T03:04:05Z"), now=NOW)
        assert normalized["output"] == "2020-01-02T03:04:05Z"

    def test_current_epoch_milliseconds_become_a_shape_token(self) -> None:
        """Date.now() in an output compares by shape only."""
        assert normalize(success(int(NOW * 1000)), now=NOW)["output"] == "<now:epoch-ms>"

    def test_an_epoch_inside_an_output_string_becomes_a_token(self) -> None:
        """`'saga_' + Date.now()` compares by shape: two runs give equal outputs."""
        one = normalize(success(f"saga_{int(NOW * 1000)}"), now=NOW)
        two = normalize(success(f"saga_{int(NOW * 1000) + 7}"), now=NOW)
        assert one["output"] == two["output"] == "saga_<now:epoch-ms>"

    def test_an_epoch_inside_stderr_becomes_a_token(self) -> None:
        """Epochs inside printed text are masked like date-times."""
        observation = failure(stderr=f"retry at {int(NOW)}\n")
        assert normalize(observation, now=NOW)["error"]["stderr"] == "retry at <now:epoch-s>\n"

    def test_small_numbers_are_kept(self) -> None:
        """Ordinary numbers are not mistaken for time readings."""
        assert normalize(success([0, 42, 3.5]), now=NOW)["output"] == [0, 42, 3.5]

    def test_a_timestamp_inside_stdout_becomes_a_token(self) -> None:
        """A printed current time is compared by shape only, the rest of the text exactly."""
        normalized = normalize(success(stdout=f"done at {iso(0)}\n"), now=NOW)
        assert normalized["stdout"] == "done at <now:iso-datetime>\n"

    def test_temporary_paths_become_a_token(self) -> None:
        """Per-execution temporary directories do not count as differences."""
        observation = failure(message="cannot open /tmp/turnout-local-ab12cd/data.csv")
        assert normalize(observation, now=NOW)["error"]["message"] == (
            "cannot open <tmpdir>/data.csv"
        )


class TestCompare:
    def test_success_against_error_is_one_difference(self) -> None:
        """When one backend fails and the other does not, that is the difference reported."""
        found = describe_differences(
            normalize(success(1), now=NOW),
            normalize(failure("timeout", "too slow"), now=NOW),
            names=("local", "remote"),
        )
        assert found == [
            "local gave success with output 1; remote gave CodeExecutionError (timeout): too slow"
        ]

    def test_each_differing_field_is_reported_with_the_backend_names(self) -> None:
        """Differences name the field and say which backend gave which value."""
        found = describe_differences(
            normalize(success(1, stdout="a\n"), now=NOW),
            normalize(success(2, stdout="a\n"), now=NOW),
            names=("local", "remote"),
        )
        assert found == ["output: local 1, remote 2"]

    def test_ignored_fields_are_not_compared(self) -> None:
        """A case's differential_ignore fields may differ."""
        found = describe_differences(
            normalize(success(1, stdout="a\n"), now=NOW),
            normalize(success(1, stdout="b\n"), now=NOW),
            ignore=["stdout", "logs"],
        )
        assert found == []

    def test_error_fields_are_compared(self) -> None:
        """Two errors of the same kind with different lines differ at error.line."""
        found = describe_differences(
            normalize(failure(line=2), now=NOW),
            normalize(failure(line=3), now=NOW),
            names=("a", "b"),
        )
        assert found == ["error.line: a 2, b 3"]


class TestIgnorePaths:
    def test_a_place_inside_the_output_is_ignored_on_both_sides(self) -> None:
        """`output.items[*].id` takes every item's id out of the comparison, nothing else."""
        paths = [IgnorePath.parse("output.items[*].id")]
        one = apply_ignores(normalize(success({"items": [{"id": 1, "n": 1}]}), now=NOW), paths)
        two = apply_ignores(normalize(success({"items": [{"id": 9, "n": 1}]}), now=NOW), paths)
        assert describe_differences(one, two) == []
        three = apply_ignores(normalize(success({"items": [{"id": 9, "n": 2}]}), now=NOW), paths)
        assert describe_differences(one, three) == ['output["items"][0]["n"]: reference 1, other 2']

    def test_a_key_present_on_one_side_only_is_ignored_too(self) -> None:
        """An ignored key that one side lacks is not a difference."""
        paths = [IgnorePath.parse('output["request id"]')]
        one = apply_ignores(normalize(success({"request id": "a"}), now=NOW), paths)
        two = apply_ignores(normalize(success({}), now=NOW), paths)
        assert describe_differences(one, two) == []

    def test_a_whole_field_is_ignored(self) -> None:
        """A field name of IGNORABLE ignores that field (logs repeat stdout's lines)."""
        paths = [IgnorePath.parse("stdout"), IgnorePath.parse("logs")]
        one = apply_ignores(normalize(success(1, stdout="a"), now=NOW), paths)
        two = apply_ignores(normalize(success(1, stdout="b"), now=NOW), paths)
        assert describe_differences(one, two) == []

    @pytest.mark.parametrize(
        "text", ["outputs.x", "output.", "output[x]", "output.a..b", "stdout.x"]
    )
    def test_a_malformed_path_is_refused_saying_what_is_allowed(self, text: str) -> None:
        """Only IGNORABLE fields and places inside the output are paths."""
        with pytest.raises(ValueError, match=r"cannot (ignore|read)"):
            IgnorePath.parse(text)
