"""Tests for reading log lines (turnout.rollout.events)."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from turnout.log_events import CodeNodeExecuted, ShadowComparison, parse_event
from turnout.rollout.events import (
    Skipped,
    classify_outcome,
    comparison_verdict,
    event_time,
    open_log,
    parse_line,
    read_line,
)

from .support import compared, executed, lines, shim_event


class TestParseLine:
    def test_reads_an_execution_event(self) -> None:
        """A well-formed `code_node_executed` line is returned as its object."""
        [line] = lines(executed())
        logged = parse_line(line)
        assert logged is not None
        assert isinstance(logged.event, CodeNodeExecuted)
        assert logged.event.backend == "local-subprocess"

    @pytest.mark.parametrize("name", ["shadow_shed", "shadow_failed", "fallback_to_legacy"])
    def test_reads_the_shim_events(self, name: str) -> None:
        """The shim's shed, failure and fallback events are read."""
        [line] = lines(shim_event(name))
        assert parse_line(line) is not None

    @pytest.mark.parametrize(
        "line",
        [
            "",
            "\n",
            "2026-01-10 08:00:00 [info] code_node_executed backend=e2b\n",
            '{"event": "code_node_executed", "environment": "prod"',
            "[1, 2, 3]\n",
            '"code_node_executed"\n',
        ],
        ids=["empty", "blank", "console", "truncated", "array", "string"],
    )
    def test_skips_lines_that_are_not_json_objects(self, line: str) -> None:
        """Console output, truncated lines and JSON that is not an object are skipped."""
        assert parse_line(line) is None

    def test_skips_other_events(self) -> None:
        """A JSON event the report does not read (e.g. flags_reload_failed) is skipped."""
        assert parse_line(json.dumps({"event": "flags_reload_failed", "environment": "p"})) is None

    def test_reads_flags_reloaded(self) -> None:
        """`flags_reloaded` is read: it marks where a step of the migration took effect."""
        assert parse_line(json.dumps({"event": "flags_reloaded", "environments": ["p"]}))

    @pytest.mark.parametrize(
        "broken",
        [
            {"environment": None},
            {"backend": 3},
            {"role": "spectator"},
            {"outcome": "maybe"},
        ],
        ids=["environment", "backend", "role", "outcome"],
    )
    def test_skips_an_execution_event_missing_what_is_counted(
        self, broken: dict[str, object]
    ) -> None:
        """An execution event with a missing or unknown environment, backend, role or outcome
        is skipped rather than miscounted."""
        [line] = lines({**executed(), **broken})
        assert parse_line(line) is None

    def test_skips_a_comparison_with_an_unknown_verdict(self) -> None:
        """A comparison whose verdict is not match, ignored or mismatch is skipped."""
        [line] = lines(compared(verdict="close enough"))
        assert parse_line(line) is None


class TestReadLine:
    def test_a_field_of_the_wrong_type_is_malformed_and_named(self) -> None:
        """A known event whose field has the wrong type is reported as malformed, with a
        reason naming the field, not read as something else."""
        [line] = lines(executed(duration_ms="12"))
        read = read_line(line)
        assert isinstance(read, Skipped)
        assert read.malformed
        assert "'duration_ms'" in read.reason

    def test_another_event_is_skipped_not_malformed(self) -> None:
        """A JSON event the report does not read is skipped, and not called malformed."""
        read = read_line(json.dumps({"event": "flags_reload_failed", "environment": "p"}))
        assert isinstance(read, Skipped)
        assert not read.malformed


def typed(event: dict[str, object]) -> Any:
    """The typed event a helper's dict holds (what `parse_line` gives the readers)."""
    return parse_event(event)


class TestClassifyOutcome:
    def test_ok(self) -> None:
        """A successful run is `ok`."""
        assert classify_outcome(typed(executed())) == "ok"

    @pytest.mark.parametrize("kind", ["runtime", "syntax", "timeout", "memory"])
    def test_code_errors_are_user_errors(self, kind: str) -> None:
        """A CodeExecutionError of any kind is the user's code failing."""
        assert classify_outcome(typed(executed(error="CodeExecutionError", kind=kind))) == "user"

    def test_infrastructure_error(self) -> None:
        """An InfrastructureError is the platform failing."""
        event = typed(executed(error="InfrastructureError", kind="infrastructure"))
        assert classify_outcome(event) == "infrastructure"

    def test_configuration_error_counts_as_infrastructure(self) -> None:
        """A ConfigurationError (e.g. a missing key) means the backend could not run the code."""
        assert classify_outcome(typed(executed(error="ConfigurationError"))) == "infrastructure"

    def test_internal_error_counts_as_infrastructure(self) -> None:
        """An InternalError (a bug in turnout or a plugin) is the platform failing to run
        the code, never the user's code failing."""
        assert classify_outcome(typed(executed(error="InternalError", kind="internal"))) == (
            "infrastructure"
        )

    def test_validation_error_is_invalid_input(self) -> None:
        """A ValidationError is the caller's input, neither the user's code nor the platform."""
        assert classify_outcome(typed(executed(error="ValidationError"))) == "invalid"


class TestComparisonVerdict:
    @pytest.mark.parametrize("verdict", ["candidate_error", "authoritative_error"])
    def test_reads_the_verdicts_of_a_side_that_could_not_run(self, verdict: str) -> None:
        """`candidate_error` and `authoritative_error` comparisons are read, not skipped."""
        [line] = lines(compared(verdict))
        logged = parse_line(line)
        assert logged is not None
        assert isinstance(logged.event, ShadowComparison)
        assert comparison_verdict(logged.event) == verdict

    @pytest.mark.parametrize(
        "outcome", ["ConfigurationError", "InfrastructureError", "InternalError"]
    )
    def test_an_older_mismatch_whose_candidate_could_not_run_is_a_candidate_error(
        self, outcome: str
    ) -> None:
        """Logs of workers from before the `candidate_error` verdict logged a candidate
        that could not run as a `mismatch`; the report reads it as a candidate error."""
        event = typed(
            compared("mismatch", paths=("$.error", "$.output"), candidate_outcome=outcome)
        )
        assert comparison_verdict(event) == "candidate_error"

    def test_an_older_mismatch_whose_authoritative_side_could_not_run(self) -> None:
        """Likewise, an authoritative infrastructure failure is an authoritative error."""
        event = typed(
            compared("mismatch", paths=("$.error",), authoritative_outcome="InfrastructureError")
        )
        assert comparison_verdict(event) == "authoritative_error"

    def test_a_user_code_error_stays_a_mismatch(self) -> None:
        """A candidate whose user code failed (kind `runtime`) ran: the mismatch stands."""
        event = typed(compared("mismatch", paths=("$.error",), candidate_outcome="runtime"))
        assert comparison_verdict(event) == "mismatch"


class TestEventTime:
    def test_reads_structlog_timestamps(self) -> None:
        """structlog's ISO timestamp with a Z suffix is read as UTC."""
        moment = event_time("2026-01-10T08:00:00.500000Z")
        assert moment == datetime(2026, 1, 10, 8, 0, 0, 500000, tzinfo=UTC)

    def test_a_timestamp_without_offset_is_utc(self) -> None:
        """A timestamp that names no offset is taken as UTC, so it compares with the others."""
        assert event_time("2026-01-10T08:00:00") == datetime(2026, 1, 10, 8, tzinfo=UTC)

    @pytest.mark.parametrize("value", [None, 17, "yesterday"])
    def test_unreadable_timestamps_are_none(self, value: object) -> None:
        """A missing or malformed timestamp gives None instead of an error."""
        assert event_time(value) is None


class TestOpenLog:
    def test_reads_gzip_when_the_name_ends_in_gz(self, tmp_path: Path) -> None:
        """A rotated, compressed log (`.gz`) is decompressed while read."""
        path = tmp_path / "turnout.log.gz"
        with gzip.open(path, "wt", encoding="utf-8") as stream:
            stream.writelines(lines(executed()))
        with open_log(path) as stream:
            assert parse_line(stream.readline()) is not None

    def test_dash_reads_stdin(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """`-` reads the lines from stdin."""
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(lines(executed()))))
        with open_log("-") as stream:
            assert parse_line(stream.readline()) is not None

    def test_undecodable_bytes_do_not_raise(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are replaced, so a binary file yields skipped lines."""
        path = tmp_path / "binary.log"
        path.write_bytes(b"\xff\xfe\x00garbage\n")
        with open_log(path) as stream:
            assert parse_line(stream.readline()) is None
