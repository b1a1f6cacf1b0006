"""Tests for turnout_e2b.events: each of the backend's events survives emit -> JSON line or
record -> parse, keeps the keys the docs name, and a field of the wrong type is refused by
name."""

from __future__ import annotations

import io
import json
import logging

import pytest
from turnout_e2b.events import (
    EVENT_TYPES,
    E2BEvent,
    PoolRefillFailed,
    SandboxCreateFailed,
    SandboxCreateRetry,
    SandboxReleased,
    event_of_record,
    name_of,
    parse_e2b_event,
)

from turnout.log_events import EventError, MalformedEventError
from turnout.logging import EVENT_ATTRIBUTE, get_logger

EVENTS: list[E2BEvent] = [
    SandboxCreateRetry(execution_id="e1", attempt=1, delay_s=0.25, error="HTTP 503"),
    SandboxCreateFailed(execution_id="e1", attempts=3, error="HTTP 503"),
    SandboxReleased(
        sandbox_id="sbx-1",
        execution_id="e1",
        environment="prod",
        reason="executed",
        pooled=False,
        sandbox_seconds=1.234,
        pool_idle_seconds=0.0,
        cost_usd=3.7e-05,
        kill_ms=12.5,
        labels={"tenant": "t-1", "chaos": "7"},
    ),
    SandboxReleased(
        sandbox_id="sbx-2",
        execution_id=None,
        environment="prod",
        reason="expired",
        pooled=True,
        sandbox_seconds=0.0,
        pool_idle_seconds=300.5,
        cost_usd=0.009,
        kill_ms=8.0,
    ),
    PoolRefillFailed(environment="prod", consecutive_failures=2, retry_in_s=0.4, error="HTTP 429"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_every_event_round_trips_through_a_json_line(
    event: E2BEvent, json_lines: io.StringIO
) -> None:
    """Emitting an event and parsing the JSON line it becomes gives the same event back."""
    get_logger("turnout.e2b").emit(event)
    [line] = json_lines.getvalue().splitlines()
    assert parse_e2b_event(json.loads(line)) == event


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: type(event).__name__)
def test_every_event_round_trips_through_a_record(
    event: E2BEvent, turnout_records: list[logging.LogRecord]
) -> None:
    """An in-process reader (the chaos run) gets the same event back from the log record."""
    get_logger("turnout.e2b").emit(event)
    assert [event_of_record(record) for record in turnout_records] == [event]


def test_every_defined_event_is_round_tripped() -> None:
    """The round-trip tests cover every event the module defines."""
    assert {name_of(event) for event in EVENTS} == set(EVENT_TYPES)


def test_a_release_keeps_the_keys_the_docs_name() -> None:
    """`sandbox_released` is flat, in the order it always had: its fields, then
    `label_<key>` per label (docs/backends/e2b.md, Cost accounting)."""
    name, fields = EVENTS[2].wire()
    assert name == "sandbox_released"
    assert list(fields) == [
        "sandbox_id",
        "execution_id",
        "environment",
        "reason",
        "pooled",
        "sandbox_seconds",
        "pool_idle_seconds",
        "cost_usd",
        "kill_ms",
        "label_tenant",
        "label_chaos",
    ]


def test_a_pooled_sandbox_no_execution_took_has_a_null_execution() -> None:
    """A discarded pooled sandbox's release writes `execution_id` as null, not nothing."""
    assert EVENTS[3].wire()[1]["execution_id"] is None


@pytest.mark.parametrize(
    ("event", "field", "value"),
    [
        (EVENTS[0], "attempt", "1"),
        (EVENTS[1], "attempts", 2.5),
        (EVENTS[2], "pooled", "no"),
        (EVENTS[2], "sandbox_seconds", "1.2"),
        (EVENTS[4], "consecutive_failures", None),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_field_of_the_wrong_type_is_refused_by_name(
    event: E2BEvent, field: str, value: object
) -> None:
    """A known event with a field of the wrong type is a `MalformedEventError` naming it."""
    name, fields = event.wire()
    data = {"event": name, **fields, field: value}
    with pytest.raises(MalformedEventError, match=f"{name}: field '{field}'"):
        parse_e2b_event(data)


def test_a_missing_required_field_is_refused_by_name() -> None:
    """A release without its `kill_ms` names that field."""
    fields = EVENTS[2].wire()[1]
    del fields["kill_ms"]
    with pytest.raises(MalformedEventError, match="field 'kill_ms'"):
        parse_e2b_event({"event": "sandbox_released", **fields})


def test_turnouts_own_events_are_not_the_backends() -> None:
    """A core event is an `EventError` here: only the backend's events are parsed."""
    with pytest.raises(EventError, match="code_node_executed"):
        parse_e2b_event({"event": "code_node_executed"})


def test_a_record_of_another_event_carries_none_of_these() -> None:
    """A record of an event this module does not define gives None, not an error."""
    record = logging.LogRecord("turnout.e2b", logging.INFO, __file__, 1, "x", (), None)
    setattr(record, EVENT_ATTRIBUTE, {"event": "sandbox_kill_failed", "attempt": 1})
    assert event_of_record(record) is None
