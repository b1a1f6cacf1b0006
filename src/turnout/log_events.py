"""The events turnout emits that something reads back: each one's name and typed fields.

One named tuple per event (immutable and typed like a frozen dataclass, and a fraction of
its cost to define, which every process that runs a node pays at import). The engine, the
migration shim and the flag reloader emit through these (`EventLogger.emit`), and every
reader parses back into them: the rollout report and its timeline
(`turnout.rollout.events.read_line`, from JSON lines), the chaos run and the service's
metrics (`event_of_record`, from the records of the `turnout` logger). So an event's
fields are written down once, here, and a field that changes type breaks a test
instead of a report.

On the wire an event is flat, as it always was: `event` (the name), then its fields;
`labels` become `label_<key>` keys, `decision` (the flag decision of the execution, when
there was one) becomes its thirteen keys, and a field that is None is left out unless the
event says otherwise. `wire` and `parse_event` are each other's inverse on every event
emitted (tests/test_log_events.py). Parsing is strict: a known event whose field has the
wrong type is an `EventError` naming the field, never read as something else; keys an
event does not define (fields an application bound to its loggers, `level`, `timestamp`)
are not part of it. Fields a worker of an older version did not log are optional, so a
report over a log spanning an upgrade still reads every line.

Validation uses pydantic models built from these types on the first parse only:
emitting costs no import and no validation.

A plugin defines the events of its own that something reads back the same way, in a
module of its own (named tuples whose `wire` is `wire_event`), and reads them with
`parse_event(data, types)` and `event_of_record(record, types)` given its name-to-type
mapping: one wire format and one strict parser for every event, core knowing none of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypedDict, TypeVar, overload

if TYPE_CHECKING:
    import logging

__all__ = [
    "EVENT_TYPES",
    "NO_LABELS",
    "ROLES",
    "VERDICTS",
    "CodeNodeExecuted",
    "DecisionFields",
    "EventError",
    "ExecutionFields",
    "FallbackToLegacy",
    "FlagsReloaded",
    "LogEvent",
    "LoggedEvent",
    "MalformedEventError",
    "Outcome",
    "Role",
    "ShadowComparison",
    "ShadowFailed",
    "ShadowShed",
    "Verdict",
    "event_of_record",
    "name_of",
    "parse_event",
    "parse_json_line",
    "parse_timestamp",
    "wire_event",
]

Role = Literal["direct", "authoritative", "shadow", "fallback"]
ROLES: tuple[Role, ...] = ("direct", "authoritative", "shadow", "fallback")
Outcome = Literal["ok", "error"]
Verdict = Literal["match", "ignored", "mismatch", "candidate_error", "authoritative_error"]
VERDICTS: tuple[Verdict, ...] = (
    "match",
    "ignored",
    "mismatch",
    "candidate_error",
    "authoritative_error",
)
_LABEL = "label_"


class EventError(ValueError):
    """A line or record that is not an event of this module, or one with a bad field."""


class MalformedEventError(EventError):
    """An event of this module with a field of the wrong type, or a required one missing:
    the message names the event and the field."""


class DecisionFields(NamedTuple):
    """The flag decision of an execution, as every event about it carries it (the keys of
    `turnout.flags.Decision.to_log`); only `stage` is certain in older logs."""

    stage: str
    authoritative_backend: str | None = None
    candidate_backend: str | None = None
    shadow: bool | None = None
    fallback_allowed: bool | None = None
    decision_reason: str | None = None
    bucket: int | None = None
    bucketing_key: str | None = None
    legacy_killed: bool | None = None
    decided_by: str | None = None
    stage_share: int | None = None
    flags_hash: str | None = None
    shadow_skipped: str | None = None


class ExecutionFields(TypedDict):
    """The fields every event about one execution has (which, where, what the flags
    decided), for code that builds several events of one execution."""

    environment: str
    execution_id: str | None
    code_sha256: str | None
    decision: DecisionFields | None
    labels: Mapping[str, str]


NO_LABELS: Mapping[str, str] = MappingProxyType({})


class CodeNodeExecuted(NamedTuple):
    """One run of a node on one backend ended (one per run, whatever its role and outcome).

    `stdout_bytes` onwards (to `usage`) are there when the backend returned a result;
    `output_channel` and `output_bytes` when the run succeeded; `error_*` and `retryable`
    when it failed.
    """

    environment: str
    backend: str
    role: Role
    outcome: Outcome
    execution_id: str | None = None
    code_sha256: str | None = None
    decision: DecisionFields | None = None
    labels: Mapping[str, str] = NO_LABELS
    language: str | None = None
    duration_ms: int | None = None
    warnings: list[str] | None = None
    payload_bytes: int | None = None
    output_channel: str | None = None
    output_bytes: int | None = None
    stdout_bytes: int | None = None
    stderr_bytes: int | None = None
    sandbox_id: str | None = None
    backend_timings_ms: dict[str, float] | None = None
    usage: dict[str, Any] | None = None
    error_type: str | None = None
    error_kind: str | None = None
    retryable: bool | None = None

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`_wire`); a run the backend answered says
        which sandbox ran it, null for none."""
        answered = self.stdout_bytes is not None
        return _wire(self, nullable=("sandbox_id",) if answered else ())


class ShadowComparison(NamedTuple):
    """A shadow run finished and was compared with the authoritative outcome (paths and
    counts only, never values; see `turnout.comparison`)."""

    environment: str
    verdict: Verdict
    execution_id: str | None = None
    code_sha256: str | None = None
    decision: DecisionFields | None = None
    labels: Mapping[str, str] = NO_LABELS
    mismatches: list[dict[str, Any]] | None = None
    mismatch_count: int | None = None
    ignored_count: int | None = None
    accepted_count: int | None = None
    accepted: list[dict[str, str]] | None = None
    authoritative_outcome: str | None = None
    candidate_outcome: str | None = None
    candidate_error_type: str | None = None
    candidate_error: str | None = None
    authoritative_error_type: str | None = None
    authoritative_error: str | None = None

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`_wire`)."""
        return _wire(self)


class ShadowShed(NamedTuple):
    """A shadow run was not started: `budget` shadow runs were in flight already."""

    environment: str
    execution_id: str | None = None
    code_sha256: str | None = None
    decision: DecisionFields | None = None
    labels: Mapping[str, str] = NO_LABELS
    budget: int | None = None

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`_wire`)."""
        return _wire(self)


class ShadowFailed(NamedTuple):
    """The comparison of a shadow run failed (a bug); the caller never saw it."""

    environment: str
    execution_id: str | None = None
    code_sha256: str | None = None
    decision: DecisionFields | None = None
    labels: Mapping[str, str] = NO_LABELS
    error: str | None = None

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`_wire`)."""
        return _wire(self)


class FallbackToLegacy(NamedTuple):
    """The authoritative backend failed before the code started; legacy runs it instead."""

    environment: str
    execution_id: str | None = None
    code_sha256: str | None = None
    decision: DecisionFields | None = None
    labels: Mapping[str, str] = NO_LABELS
    failed_backend: str | None = None
    fallback_backend: str | None = None
    error: str | None = None

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`_wire`)."""
        return _wire(self)


class FlagsReloaded(NamedTuple):
    """A changed flag file took effect: the events after it carry the new hashes."""

    path: str | None = None
    environments: list[str] | None = None
    flags_hashes: dict[str, str] | None = None

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`_wire`)."""
        return _wire(self)


LogEvent = (
    CodeNodeExecuted
    | ShadowComparison
    | ShadowShed
    | ShadowFailed
    | FallbackToLegacy
    | FlagsReloaded
)
"""Any event of this module (what the readers get)."""

EVENT_TYPES: dict[str, type[LogEvent]] = {
    "code_node_executed": CodeNodeExecuted,
    "shadow_comparison": ShadowComparison,
    "shadow_shed": ShadowShed,
    "shadow_failed": ShadowFailed,
    "fallback_to_legacy": FallbackToLegacy,
    "flags_reloaded": FlagsReloaded,
}
"""Every event this module defines, by its name on the wire."""
_NAMES: dict[type[LogEvent], str] = {cls: name for name, cls in EVENT_TYPES.items()}


def name_of(event: LogEvent) -> str:
    """The event's name on the wire (its `event` key)."""
    return _NAMES[type(event)]


def _wire(event: LogEvent, *, nullable: tuple[str, ...] = ()) -> tuple[str, dict[str, Any]]:
    """The event's name and its keys as emitted (`wire_event`)."""
    return wire_event(name_of(event), event, nullable=nullable)


def wire_event(
    name: str, event: Any, *, nullable: tuple[str, ...] = ()
) -> tuple[str, dict[str, Any]]:
    """`name` and the keys of `event` (a named tuple) as emitted: labels as `label_<key>`,
    the decision's keys beside the others, a None left out unless the field is `nullable`."""
    fields: dict[str, Any] = {}
    value: Any
    for key, value in zip(event._fields, event, strict=True):
        if key == "labels":
            fields.update({f"{_LABEL}{label}": text for label, text in value.items()})
        elif key == "decision":
            if value is not None:
                fields.update(value._asdict())
        elif value is not None or key in nullable:
            fields[key] = value
    return name, fields


class LoggedEvent(NamedTuple):
    """An event read from a JSON line, with the time and level the line gives it."""

    event: LogEvent
    timestamp: datetime | None = None
    level: str | None = None


_Event = TypeVar("_Event", bound=tuple[Any, ...])


@overload
def parse_event(data: Mapping[str, Any]) -> LogEvent: ...
@overload
def parse_event(data: Mapping[str, Any], types: Mapping[str, type[_Event]]) -> _Event: ...
def parse_event(data: Mapping[str, Any], types: Mapping[str, type[Any]] = EVENT_TYPES) -> Any:
    """The event a dict holds (a JSON line's object, or a record's `turnout_event`), one of
    `types` (by name on the wire: this module's, or a plugin's own).

    Raises `EventError` for a name `types` does not define, and `MalformedEventError` for a
    required field that is missing or a field of the wrong type (the message names it).
    """
    name = data.get("event")
    cls: Any = types.get(name) if isinstance(name, str) else None
    if cls is None or not isinstance(name, str):
        raise EventError(f"not an event turnout's readers know: {name!r}")
    values: dict[str, Any] = {}
    for key in cls._fields:
        if key == "labels":
            values["labels"] = {
                wire.removeprefix(_LABEL): value
                for wire, value in data.items()
                if wire.startswith(_LABEL)
            }
        elif key == "decision":
            if "stage" in data:
                values["decision"] = _validated(DecisionFields, name, data)
        elif key in data:
            values[key] = data[key]
    return _validated(cls, name, values)


def parse_json_line(line: str) -> LoggedEvent:
    """The event on one JSON log line (as `turnout.log_output` writes it); `EventError`
    when the line is not a JSON object or not a well-formed event of this module."""
    text = line.strip()
    try:
        data = json.loads(text) if text.startswith("{") else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise EventError("not a JSON object")
    level = data.get("level")
    return LoggedEvent(
        parse_event(data),
        parse_timestamp(data.get("timestamp")),
        level if isinstance(level, str) else None,
    )


@overload
def event_of_record(record: logging.LogRecord) -> LogEvent | None: ...
@overload
def event_of_record(
    record: logging.LogRecord, types: Mapping[str, type[_Event]]
) -> _Event | None: ...
def event_of_record(record: logging.LogRecord, types: Mapping[str, type[Any]] = EVENT_TYPES) -> Any:
    """The event a record of the `turnout` logger carries, or None when it carries none of
    `types` (this module's, or a plugin's own); `EventError` when it does and a field is
    malformed."""
    from turnout.logging import event_of

    data = event_of(record)
    if data.get("event") not in types:
        return None
    return parse_event(data, types)


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 `timestamp` (UTC when it names no offset), or None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_validators: dict[type[Any], Any] = {}


def _validated(cls: type[Any], name: str, values: Mapping[str, Any]) -> Any:
    """`cls(**values)` after checking every field's type strictly (no coercion)."""
    from pydantic import ValidationError

    validator = _validators.get(cls)
    if validator is None:
        validator = _validators[cls] = _validator(cls)
    try:
        checked = validator.model_validate(values)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise MalformedEventError(f"{name}: field {where!r}: {problem['msg']}") from None
    return cls(**{key: getattr(checked, key) for key in checked.model_fields_set})


def _validator(cls: type[Any]) -> Any:
    """A strict pydantic model with `cls`'s fields (built once per class, on first use)."""
    import typing

    from pydantic import ConfigDict, create_model

    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for key in cls._fields:
        # `decision` arrives validated already (a `DecisionFields`).
        kind: Any = {"labels": dict[str, str], "decision": Any}.get(key, hints[key])
        fields[key] = (kind, cls._field_defaults.get(key, ...))
    config = ConfigDict(strict=True, extra="ignore")
    return create_model(f"{cls.__name__}Fields", __config__=config, **fields)
