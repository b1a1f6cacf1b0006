"""Normalization and comparison of envelopes across backends."""

from __future__ import annotations

import datetime
import time

from turnout.conformance.differential import compare, normalize, normalize_value

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
        assert normalize_value({"at": iso(-3)}, NOW) == {"at": "<now:iso-datetime>"}

    def test_an_old_timestamp_is_kept(self) -> None:
        """A fixed date in the data is compared exactly."""
        assert normalize_value("2020-01-02T03:04:05Z", NOW) == "2020-01-02T03:04:05Z"

    def test_current_epoch_milliseconds_become_a_shape_token(self) -> None:
        """Date.now() in an output compares by shape only."""
        assert normalize_value(int(NOW * 1000), NOW) == "<now:epoch-ms>"

    def test_small_numbers_are_kept(self) -> None:
        """Ordinary numbers are not mistaken for time readings."""
        assert normalize_value([0, 42, 3.5], NOW) == [0, 42, 3.5]

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
        found = compare(
            normalize(success(1), now=NOW),
            normalize(failure("timeout", "too slow"), now=NOW),
            names=("local", "remote"),
        )
        assert found == [
            "local gave success with output 1; remote gave CodeExecutionError (timeout): too slow"
        ]

    def test_each_differing_field_is_reported_with_the_backend_names(self) -> None:
        """Differences name the field and say which backend gave which value."""
        found = compare(
            normalize(success(1, stdout="a\n"), now=NOW),
            normalize(success(2, stdout="a\n"), now=NOW),
            names=("local", "remote"),
        )
        assert found == ["output: local 1, remote 2"]

    def test_ignored_fields_are_not_compared(self) -> None:
        """A case's differential_ignore fields may differ."""
        found = compare(
            normalize(success(1, stdout="a\n"), now=NOW),
            normalize(success(1, stdout="b\n"), now=NOW),
            ignore=["stdout", "logs"],
        )
        assert found == []

    def test_error_fields_are_compared(self) -> None:
        """Two errors of the same kind with different lines differ at error.line."""
        found = compare(
            normalize(failure(line=2), now=NOW),
            normalize(failure(line=3), now=NOW),
            names=("a", "b"),
        )
        assert found == ["error.line: a 2, b 3"]
