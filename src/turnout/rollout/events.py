"""Reading turnout's JSON log lines: which lines the rollout report counts, and how.

The report reads what the engine and the migration shim log, parsed into the types that
define them (`turnout.log_events`): `code_node_executed` (one per run on one backend),
`shadow_comparison` (any verdict of `VERDICTS`), `shadow_shed`, `shadow_failed`,
`fallback_to_legacy`, and `flags_reloaded` (a step of the migration took effect: the
events after it carry the new configuration's hash).

A line is read (`read_line`) as one of three things. An *event*: counted. *Skipped*:
anything else on the stream (other events, console lines, a truncated last line, a log
shipper's banner), counted as such and never an error, since a report over a day of logs
must not die on one odd line. *Malformed*: one of the events above whose field has the
wrong type or whose required field is missing; it is not counted either, but the report
says how many there were and why (`EventError`'s message names the field), so that a
worker logging something unexpected is seen rather than silently mis-read.
"""

from __future__ import annotations

import contextlib
import gzip
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

from turnout.log_events import (
    ROLES,
    VERDICTS,
    CodeNodeExecuted,
    EventError,
    LoggedEvent,
    MalformedEventError,
    ShadowComparison,
    Verdict,
    parse_json_line,
    parse_timestamp,
)

__all__ = [
    "ROLES",
    "SERVED_ROLES",
    "VERDICTS",
    "OutcomeClass",
    "Skipped",
    "classify_outcome",
    "comparison_verdict",
    "event_time",
    "open_log",
    "parse_line",
    "read_line",
]

SERVED_ROLES = frozenset({"direct", "authoritative"})
"""Roles whose run is the caller's execution. A `fallback` run is the second attempt of an
execution already counted by its failed `authoritative` run, so it is not counted again."""

OutcomeClass = Literal["ok", "user", "infrastructure", "invalid"]
_INFRASTRUCTURE_TYPES = frozenset(
    {"InfrastructureError", "ExecutionInterruptedError", "ConfigurationError", "InternalError"}
)


@dataclass(frozen=True)
class Skipped:
    """A line the report does not count: `malformed` when it holds one of the events it
    reads with a bad field (`reason` says which), else it holds none of them."""

    reason: str
    malformed: bool = False


def read_line(line: str) -> LoggedEvent | Skipped:
    """The event on one log line, or why the report does not count the line."""
    try:
        return parse_json_line(line)
    except MalformedEventError as error:
        return Skipped(str(error), malformed=True)
    except EventError as error:
        return Skipped(str(error))


def parse_line(line: str) -> LoggedEvent | None:
    """The event on one log line, or None when the report does not count that line."""
    read = read_line(line)
    return read if isinstance(read, LoggedEvent) else None


def comparison_verdict(event: ShadowComparison) -> Verdict:
    """The verdict of a `shadow_comparison` event.

    Workers from before the `candidate_error` and `authoritative_error` verdicts logged a
    side that could not run the code as a `mismatch`; such an event is read by its
    outcome fields (`candidate_outcome`, `authoritative_outcome`: an error type that
    means the backend could not run), so a log spanning an upgrade is counted alike.
    """
    verdict = event.verdict
    if verdict != "mismatch":
        return verdict
    if event.candidate_outcome in _INFRASTRUCTURE_TYPES:
        return "candidate_error"
    if event.authoritative_outcome in _INFRASTRUCTURE_TYPES:
        return "authoritative_error"
    return verdict


def classify_outcome(event: CodeNodeExecuted) -> OutcomeClass:
    """How one `code_node_executed` run ended, for error rates.

    `user`: the user's code failed (a `CodeExecutionError`: syntax, runtime, timeout, ...),
    which no backend can prevent. `infrastructure`: the platform could not run the code (an
    `InfrastructureError`, a `ConfigurationError` such as a missing key, or an
    `InternalError`, a bug in turnout or a plugin), which the promotion gates bound.
    `invalid`: the caller's input was refused (`ValidationError`).
    """
    if event.outcome == "ok":
        return "ok"
    if event.error_kind in ("infrastructure", "internal") or (
        event.error_type in _INFRASTRUCTURE_TYPES
    ):
        return "infrastructure"
    if event.error_type == "CodeExecutionError" or event.error_kind is not None:
        return "user"
    return "invalid"


def event_time(value: object) -> datetime | None:
    """A line's `timestamp` (ISO 8601, as turnout.log_output writes it; UTC when it names
    no offset), or None when it is missing or unreadable."""
    return parse_timestamp(value)


@contextlib.contextmanager
def open_log(path: str | Path) -> Iterator[TextIO]:
    """The log's lines as text: a file (gzip if it ends in .gz), or stdin for `-`.

    Raises OSError when the file cannot be opened; undecodable bytes are replaced, so a
    binary or mis-encoded file yields skipped lines rather than an error.
    """
    if str(path) == "-":
        yield sys.stdin
        return
    if str(path).endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as compressed:
            yield compressed
        return
    with open(path, encoding="utf-8", errors="replace") as text:
        yield text
