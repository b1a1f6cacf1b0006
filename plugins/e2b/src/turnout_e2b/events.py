"""The e2b backend's events that something reads back: each one's name and typed fields.

Defined the way `turnout.log_events` defines turnout's own (one named tuple per event,
flat on the wire, strict when parsed back), so the backend emits them through these
definitions (`EventLogger.emit`) and every reader parses them into the same types: the
chaos run counts create retries and reads what each sandbox was held for, the tests read
the pool's refill failures. A field of the wrong type is a `MalformedEventError` naming it.

What the backend logs that nothing reads back (a failed kill, the pool's takes and totals,
the embedded server's start) stays a plain event with keyword fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from turnout.log_events import NO_LABELS, parse_event, wire_event
from turnout.log_events import event_of_record as core_event_of_record

if TYPE_CHECKING:
    import logging

__all__ = [
    "EVENT_TYPES",
    "E2BEvent",
    "PoolRefillFailed",
    "SandboxCreateFailed",
    "SandboxCreateRetry",
    "SandboxReleased",
    "event_of_record",
    "name_of",
    "parse_e2b_event",
]


class SandboxCreateRetry(NamedTuple):
    """A create attempt failed retryably and the next one starts after `delay_s`."""

    execution_id: str
    attempt: int
    delay_s: float
    error: str

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`turnout.log_events.wire_event`)."""
        return wire_event(name_of(self), self)


class SandboxCreateFailed(NamedTuple):
    """The create was given up after `attempts` (not retryable, or out of attempts or
    budget): the execution fails with the last error."""

    execution_id: str
    attempts: int
    error: str

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`turnout.log_events.wire_event`)."""
        return wire_event(name_of(self), self)


class SandboxReleased(NamedTuple):
    """A sandbox's kill completed: what it was held for and what it cost.

    `sandbox_seconds` runs from the start of the create that produced it (or the take from
    the pool) to the completed kill, `kill_ms` of it the kill; `pool_idle_seconds` is the
    pool's wait charged with it. `execution_id` is null for a pooled sandbox no execution
    took (`reason` `expired` or `drained`); labels are the execution's.
    """

    sandbox_id: str
    execution_id: str | None
    environment: str
    reason: str
    pooled: bool
    sandbox_seconds: float
    pool_idle_seconds: float
    cost_usd: float
    kill_ms: float
    labels: Mapping[str, str] = NO_LABELS

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`turnout.log_events.wire_event`); no
        execution is written as null."""
        return wire_event(name_of(self), self, nullable=("execution_id",))


class PoolRefillFailed(NamedTuple):
    """A pool refill's create failed; the next one is tried after `retry_in_s`."""

    environment: str
    consecutive_failures: int
    retry_in_s: float
    error: str

    def wire(self) -> tuple[str, dict[str, Any]]:
        """The name and the keys as emitted (`turnout.log_events.wire_event`)."""
        return wire_event(name_of(self), self)


E2BEvent = SandboxCreateRetry | SandboxCreateFailed | SandboxReleased | PoolRefillFailed
"""Any event of this module (what the readers get)."""

EVENT_TYPES: dict[str, type[E2BEvent]] = {
    "sandbox_create_retry": SandboxCreateRetry,
    "sandbox_create_failed": SandboxCreateFailed,
    "sandbox_released": SandboxReleased,
    "sandbox_pool_refill_failed": PoolRefillFailed,
}
"""Every event this module defines, by its name on the wire."""
_NAMES: dict[type[E2BEvent], str] = {cls: name for name, cls in EVENT_TYPES.items()}


def name_of(event: E2BEvent) -> str:
    """The event's name on the wire (its `event` key)."""
    return _NAMES[type(event)]


def parse_e2b_event(data: Mapping[str, Any]) -> E2BEvent:
    """The event a dict holds (a JSON line's object, or a record's `turnout_event`);
    `EventError` when it is none of this module's, `MalformedEventError` naming a bad
    field (`turnout.log_events.parse_event`)."""
    return parse_event(data, EVENT_TYPES)


def event_of_record(record: logging.LogRecord) -> E2BEvent | None:
    """The event of this module a record of the `turnout` logger carries, or None when it
    carries none; `EventError` when it does and a field is malformed."""
    return core_event_of_record(record, EVENT_TYPES)
