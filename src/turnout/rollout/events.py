"""Reading turnout's JSON log lines: which lines the rollout report counts, and how.

The report reads what the engine and the migration shim log (see `turnout.engine` and
`turnout.migration`): `code_node_executed` (one per run on one backend), `shadow_comparison`
(any verdict of `turnout.comparison.VERDICTS`),
`shadow_shed`, `shadow_failed`, `fallback_to_legacy`, and `flags_reloaded` (a step of
the migration took effect: the events after it carry the new configuration's hash).
Anything else on the stream (other events, console lines, a truncated last line, a log
shipper's banner) is *skipped* and counted as such, never an error: a report over a day
of logs must not die on one odd line.
A recognised event whose fields the report needs are missing or malformed is skipped too.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from turnout.comparison import VERDICTS, Verdict

__all__ = [
    "EVENTS",
    "ROLES",
    "SERVED_ROLES",
    "VERDICTS",
    "OutcomeClass",
    "classify_outcome",
    "comparison_verdict",
    "event_time",
    "open_log",
    "parse_line",
]

EVENTS = frozenset(
    {
        "code_node_executed",
        "shadow_comparison",
        "shadow_shed",
        "shadow_failed",
        "fallback_to_legacy",
        "flags_reloaded",
    }
)
ROLES = frozenset({"direct", "authoritative", "shadow", "fallback"})
SERVED_ROLES = frozenset({"direct", "authoritative"})
"""Roles whose run is the caller's execution. A `fallback` run is the second attempt of an
execution already counted by its failed `authoritative` run, so it is not counted again."""

OutcomeClass = Literal["ok", "user", "infrastructure", "invalid"]
_INFRASTRUCTURE_TYPES = frozenset(
    {"InfrastructureError", "ExecutionInterruptedError", "ConfigurationError", "InternalError"}
)


def parse_line(line: str) -> dict[str, Any] | None:
    """The event on one log line, or None when the report does not read that line."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("event") not in EVENTS:
        return None
    return data if _well_formed(data) else None


def _well_formed(event: dict[str, Any]) -> bool:
    if event["event"] == "flags_reloaded":
        return True  # it concerns every environment of the file
    if not isinstance(event.get("environment"), str):
        return False
    name = event["event"]
    if name == "code_node_executed":
        return (
            isinstance(event.get("backend"), str)
            and event.get("role") in ROLES
            and event.get("outcome") in ("ok", "error")
        )
    if name == "shadow_comparison":
        return event.get("verdict") in VERDICTS
    return True


def comparison_verdict(event: dict[str, Any]) -> Verdict:
    """The verdict of a `shadow_comparison` event (already checked by `parse_line`).

    Workers from before the `candidate_error` and `authoritative_error` verdicts logged a
    side that could not run the code as a `mismatch`; such an event is read by its
    outcome fields (`candidate_outcome`, `authoritative_outcome`: an error type that
    means the backend could not run), so a log spanning an upgrade is counted alike.
    """
    verdict: Verdict = event["verdict"]
    if verdict != "mismatch":
        return verdict
    if event.get("candidate_outcome") in _INFRASTRUCTURE_TYPES:
        return "candidate_error"
    if event.get("authoritative_outcome") in _INFRASTRUCTURE_TYPES:
        return "authoritative_error"
    return verdict


def classify_outcome(event: dict[str, Any]) -> OutcomeClass:
    """How one `code_node_executed` run ended, for error rates.

    `user`: the user's code failed (a `CodeExecutionError`: syntax, runtime, timeout, ...),
    which no backend can prevent. `infrastructure`: the platform could not run the code (an
    `InfrastructureError`, a `ConfigurationError` such as a missing key, or an
    `InternalError`, a bug in turnout or a plugin), which the promotion gates bound.
    `invalid`: the caller's input was refused (`ValidationError`).
    """
    if event.get("outcome") == "ok":
        return "ok"
    error_type = event.get("error_type")
    if event.get("error_kind") in ("infrastructure", "internal") or (
        error_type in _INFRASTRUCTURE_TYPES
    ):
        return "infrastructure"
    if error_type == "CodeExecutionError" or event.get("error_kind") is not None:
        return "user"
    return "invalid"


def event_time(event: dict[str, Any]) -> datetime | None:
    """The event's `timestamp` (ISO 8601, as turnout.log_output writes it; UTC when it names no
    offset), or None when it is missing or unreadable."""
    value = event.get("timestamp")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
