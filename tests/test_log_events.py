"""Tests for turnout.log_events: every event survives emit -> JSON line -> parse, a field of
the wrong type is refused by name, the wire keys are the ones the docs and stored logs
use, and nothing outside the module emits one of its events (or one of the e2b backend's,
defined the same way) by name."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import pytest
from turnout_e2b.events import EVENT_TYPES as E2B_EVENT_TYPES

from turnout.log_events import (
    EVENT_TYPES,
    NO_LABELS,
    CodeNodeExecuted,
    DecisionFields,
    EventError,
    FallbackToLegacy,
    FlagsReloaded,
    LogEvent,
    MalformedEventError,
    ShadowComparison,
    ShadowFailed,
    ShadowShed,
    event_of_record,
    name_of,
    parse_event,
    parse_json_line,
    wire_event,
)
from turnout.logging import get_logger

ROOT = Path(__file__).resolve().parents[1]
DECISION = DecisionFields(
    stage="shadow",
    authoritative_backend="local-subprocess",
    candidate_backend="e2b",
    shadow=True,
    fallback_allowed=False,
    decision_reason="stage shadow",
    bucket=42,
    bucketing_key="tenant",
    legacy_killed=False,
    decided_by="stage",
    stage_share=100,
    flags_hash="abc123",
    shadow_skipped=None,
)
ABOUT = {
    "environment": "prod",
    "execution_id": "e1",
    "code_sha256": "c0dec0dec0dec0de",
    "decision": DECISION,
    "labels": {"tenant": "t-1", "node": "n-1"},
}
EVENTS: list[LogEvent] = [
    CodeNodeExecuted(
        **ABOUT,
        backend="e2b",
        role="shadow",
        outcome="ok",
        language="python",
        duration_ms=41,
        payload_bytes=120,
        output_channel="return",
        output_bytes=2,
        stdout_bytes=0,
        stderr_bytes=0,
        sandbox_id=None,
        backend_timings_ms={"create": 12.5, "run": 3.0},
        usage={"sandboxSeconds": 0.2, "costUsd": 0.0001},
    ),
    CodeNodeExecuted(
        environment="dev",
        execution_id="e2",
        code_sha256="0123456789abcdef",
        backend="local-subprocess",
        role="direct",
        outcome="error",
        language="javascript",
        duration_ms=7,
        warnings=["memoryLimit is ignored"],
        error_type="CodeExecutionError",
        error_kind="runtime",
        retryable=False,
    ),
    ShadowComparison(
        **ABOUT,
        verdict="mismatch",
        mismatches=[{"path": "$.output.a", "authoritative": "int", "candidate": "str"}],
        mismatch_count=1,
        ignored_count=0,
        accepted_count=1,
        accepted=[{"path": "$.stdout", "rule": "$.stdout", "owner": "ops", "reason": "ok"}],
        authoritative_outcome="ok",
        candidate_outcome="ok",
    ),
    ShadowComparison(
        **ABOUT,
        verdict="candidate_error",
        mismatch_count=0,
        ignored_count=0,
        accepted_count=0,
        authoritative_outcome="ok",
        candidate_outcome="InfrastructureError",
        candidate_error_type="InfrastructureError",
        candidate_error="no sandbox",
    ),
    ShadowShed(**ABOUT, budget=8),
    ShadowFailed(**ABOUT, error="ValueError: boom"),
    FallbackToLegacy(
        **ABOUT,
        failed_backend="e2b",
        fallback_backend="local-subprocess",
        error="create failed",
    ),
    FlagsReloaded(
        path="/etc/turnout/flags.toml", environments=["prod"], flags_hashes={"prod": "abc123"}
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_every_event_round_trips_through_a_json_line(
    event: LogEvent, json_lines: io.StringIO
) -> None:
    """Emitting an event and parsing the JSON line it becomes gives the same event back."""
    get_logger("turnout.test").emit(event)
    [line] = json_lines.getvalue().splitlines()
    assert parse_json_line(line).event == event


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_every_event_round_trips_through_a_record(
    event: LogEvent, turnout_records: list[logging.LogRecord]
) -> None:
    """An in-process reader (the chaos run, the service's metrics) gets the same event
    back from the log record."""
    get_logger("turnout.test").emit(event)
    assert [event_of_record(record) for record in turnout_records] == [event]


def test_every_defined_event_is_round_tripped() -> None:
    """The round-trip tests cover every event the module defines."""
    assert {name_of(event) for event in EVENTS} == set(EVENT_TYPES)


def test_a_run_keeps_the_keys_stored_logs_have() -> None:
    """A successful run's `code_node_executed` has today's keys, flat: the decision's
    keys, `label_<key>` per label, and `sandbox_id` as null when no sandbox ran it."""
    fields = EVENTS[0].wire()[1]
    assert fields["sandbox_id"] is None
    assert (fields["label_tenant"], fields["stage"], fields["candidate_backend"]) == (
        "t-1",
        "shadow",
        "e2b",
    )
    assert set(fields) == {
        *DecisionFields._fields,
        "label_tenant",
        "label_node",
        "environment",
        "execution_id",
        "code_sha256",
        "backend",
        "role",
        "outcome",
        "language",
        "duration_ms",
        "payload_bytes",
        "output_channel",
        "output_bytes",
        "stdout_bytes",
        "stderr_bytes",
        "sandbox_id",
        "backend_timings_ms",
        "usage",
    }


def test_a_run_refused_before_the_backend_answered_has_no_result_keys() -> None:
    """A failed run without a backend result leaves out the result's keys (no null
    `sandbox_id`), and a run without a decision has none of the decision's keys."""
    fields = EVENTS[1].wire()[1]
    assert "sandbox_id" not in fields
    assert "stdout_bytes" not in fields
    assert "stage" not in fields


@pytest.mark.parametrize(
    ("field", "value"),
    [("duration_ms", "41"), ("role", "spectator"), ("retryable", 1), ("stage_share", "all")],
)
def test_a_field_of_the_wrong_type_is_refused_by_name(field: str, value: object) -> None:
    """A known event with a field of the wrong type is a `MalformedEventError` naming it."""
    data = {"event": "code_node_executed", **EVENTS[0].wire()[1], field: value}
    with pytest.raises(MalformedEventError, match=f"code_node_executed: field '{field}'"):
        parse_event(data)


def test_a_missing_required_field_is_refused_by_name() -> None:
    """A known event without a field it cannot do without names that field."""
    data = {"event": "shadow_comparison", "environment": "prod"}
    with pytest.raises(MalformedEventError, match="field 'verdict'"):
        parse_event(data)


def test_an_unknown_event_is_not_parsed() -> None:
    """An event name the module does not define is an `EventError`, not a guess."""
    with pytest.raises(EventError, match="sandbox_released"):
        parse_event({"event": "sandbox_released"})


def test_keys_the_event_does_not_define_are_not_part_of_it() -> None:
    """Fields an application bound to its loggers, and `level`/`timestamp`, are ignored."""
    data = {"event": "shadow_shed", **EVENTS[4].wire()[1], "request_id": "r-9", "level": "x"}
    assert parse_event(data) == EVENTS[4]


def _python_sources() -> Iterator[Path]:
    for top in ("src", "plugins"):
        for path in (ROOT / top).rglob("*.py"):
            if "node_modules" not in path.parts and ".venv" not in path.parts:
                yield path


#: Every module defining events something reads back, with the names it defines: turnout's
#: own and the e2b backend's.
DEFINITIONS = {
    ROOT / "src/turnout/log_events.py": set(EVENT_TYPES),
    ROOT / "plugins/e2b/src/turnout_e2b/events.py": set(E2B_EVENT_TYPES),
}


def test_no_module_emits_an_event_by_name_outside_the_definitions() -> None:
    """No source in src/ or plugins/ passes the name of an event turnout or its e2b backend
    defines as the first argument of a call (`log.info("code_node_executed", ...)`,
    `capture.count("sandbox_create_retry")`): they are emitted and read through their
    definitions only, so their fields cannot drift from them."""
    names = "|".join(re.escape(name) for defined in DEFINITIONS.values() for name in defined)
    emitted = re.compile(rf"\(\s*[\"']({names})[\"']")
    found = [
        f"{path.relative_to(ROOT)}: {match.group(1)}"
        for path in _python_sources()
        if path not in DEFINITIONS
        for match in emitted.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_a_plugins_events_parse_with_its_own_types() -> None:
    """A plugin's event, flattened by `wire_event`, parses back into its type when
    `parse_event` is given the plugin's name-to-type mapping, strictly like core's."""

    class Probe(NamedTuple):
        count: int
        labels: Mapping[str, str] = NO_LABELS

    types = {"probe_seen": Probe}
    name, fields = wire_event("probe_seen", Probe(3, {"tenant": "t-1"}))
    assert fields == {"count": 3, "label_tenant": "t-1"}
    assert parse_event({"event": name, **fields}, types) == Probe(3, {"tenant": "t-1"})
    with pytest.raises(MalformedEventError, match="probe_seen: field 'count'"):
        parse_event({"event": name, "count": "3"}, types)


def test_the_json_line_is_the_logged_fields(json_lines: io.StringIO) -> None:
    """The JSON line holds `event`, the event's fields, `level` and `timestamp`: nothing
    is renamed on the way out."""
    get_logger("turnout.test").emit(EVENTS[6], level=logging.WARNING)
    data = json.loads(json_lines.getvalue())
    assert data.pop("event") == "fallback_to_legacy"
    assert data.pop("level") == "warning"
    assert isinstance(data.pop("timestamp"), str)
    assert data == EVENTS[6].wire()[1]
