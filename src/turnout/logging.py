"""structlog set-up: one event per execution, never user data, never secrets.

Events carry sizes and hashes of code, inputs and outputs, never their content. The
`redact_secrets` processor runs last before rendering, so nothing a caller binds (an API key
passed as a field, a token inside a message) reaches a log line.

Rendering: a readable console in `development`, JSON lines everywhere else (one object per
line, the shape `turnout rollout report` reads). Applications that embed turnout and
configure structlog themselves should add `redact_secrets` to their own processor chain.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["REDACTED", "configure_logging", "get_logger", "redact_secrets"]

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|api[_-]?key|authorization|credential)", re.IGNORECASE
)
_SECRET_VALUE = re.compile(
    r"(e2b_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{16,}|(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*)"
)


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else (an exception, an object) is rendered through its repr: scrub that.
    text = repr(value)
    return _SECRET_VALUE.sub(REDACTED, text) if _SECRET_VALUE.search(text) else value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Replace secret-looking fields and values with `[redacted]`, recursively."""
    scrubbed: MutableMapping[str, Any] = {}
    for key, value in event_dict.items():
        scrubbed[key] = REDACTED if _SECRET_KEY.search(key) else _scrub(value)
    return dict(scrubbed)


def configure_logging(
    environment: str = "development",
    *,
    json_lines: bool | None = None,
    stream: TextIO | None = None,
    level: int = logging.INFO,
) -> None:
    """Configure structlog for a turnout process (the CLI calls this; libraries may)."""
    use_json = environment != "development" if json_lines is None else json_lines
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger named after the turnout component that emits the events."""
    return structlog.get_logger(name)
