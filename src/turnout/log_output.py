"""Printing turnout's events: JSON lines or a readable console, on stderr by default.

The CLI calls `configure_logging` (re-exported by `turnout.logging`) for its own output;
an application may call it too when it wants turnout's events rendered the way the CLI
renders them rather than through its own handlers. It attaches one handler to the
`turnout` logger (replacing the one a previous call attached), sets that logger's level,
and stops its records from also reaching the root logger's handlers (so nothing prints
twice). Nothing else is touched: not the root logger, not structlog.

JSON lines are what `turnout rollout report` reads: one object per line with `event`,
`level`, `timestamp` (ISO 8601, UTC, `Z`), the event's fields, and `exception` when one
was logged; keys sorted. The console is one line per event for a person: timestamp, level,
event, then `key=value` pairs; no colours.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from turnout.logging import ROOT_LOGGER, event_of, install_stdlib_redaction

__all__ = ["ConsoleFormatter", "JsonLinesFormatter", "configure", "preserved", "reset"]


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    event = event_of(record)
    event["level"] = record.levelname.lower()
    event["timestamp"] = _timestamp(record)
    if record.exc_text:
        event["exception"] = record.exc_text
    return event


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per event (values JSON cannot hold are written as their repr)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), sort_keys=True, default=repr, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """`2024-05-01T12:00:00.123456Z [info     ] code_node_executed  backend=e2b ...`"""

    def format(self, record: logging.LogRecord) -> str:
        event = _fields(record)
        exception = event.pop("exception", None)
        timestamp, level = event.pop("timestamp"), event.pop("level")
        name = str(event.pop("event", ""))
        pairs = " ".join(f"{key}={_plain(value)}" for key, value in sorted(event.items()))
        line = f"{timestamp} [{level:<9}] {name:<30} {pairs}".rstrip()
        return f"{line}\n{exception}" if exception else line


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


class _TurnoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` attaches (recognised so that a second call replaces it)."""


def configure(
    environment: str = "development",
    *,
    json_lines: bool | None = None,
    stream: TextIO | None = None,
    level: int = logging.INFO,
) -> None:
    """Render turnout's events at `level` and above on `stream` (default: stderr).

    JSON lines outside `development` (or when `json_lines` is true), a console otherwise.
    """
    use_json = environment != "development" if json_lines is None else json_lines
    logger = logging.getLogger(ROOT_LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, _TurnoutHandler):
            logger.removeHandler(handler)
    handler = _TurnoutHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonLinesFormatter() if use_json else ConsoleFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    install_stdlib_redaction()


def reset() -> None:
    """Undo `configure`: no turnout handler, level and propagation back to the defaults
    (tests that configure logging start from this)."""
    logger = logging.getLogger(ROOT_LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, _TurnoutHandler):
            logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


@contextlib.contextmanager
def preserved() -> Iterator[logging.Logger]:
    """The `turnout` logger, whose handlers, level and propagation are put back as they
    were afterwards (for tools that route events elsewhere for a while: bench, chaos)."""
    logger = logging.getLogger(ROOT_LOGGER)
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    try:
        yield logger
    finally:
        logger.handlers = handlers
        logger.setLevel(level)
        logger.propagate = propagate
