"""structlog set-up: one event per execution, never user data, never secrets.

Events carry sizes and hashes of code, inputs and outputs, never their content. The
`redact_secrets` processor runs last before rendering, so nothing a caller binds (an API key
passed as a field, a token inside a message) reaches a log line; it is the scrubber of
`turnout.redaction`, the same one errors, envelopes and reports go through.

Rendering: a readable console in `development`, JSON lines everywhere else (one object per
line, the shape `turnout rollout report` reads). Applications that embed turnout and
configure structlog themselves should add `redact_secrets` to their own processor chain.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from turnout.redaction import scrub_data, scrub_text

__all__ = [
    "LIBRARY_LOGGERS",
    "configure_logging",
    "get_logger",
    "install_stdlib_redaction",
    "redact_secrets",
]

#: Loggers of the libraries under the e2b backend (HTTP clients, E2B SDK): they log request
#: URLs, which carry whatever credentials an operator wrote into `api_url`.
LIBRARY_LOGGERS = ("httpx", "httpcore", "pyqwest", "e2b", "e2b_code_interpreter", "e2b_connect")
_stdlib_redaction_installed = False


def install_stdlib_redaction(prefixes: tuple[str, ...] = LIBRARY_LOGGERS) -> None:
    """Scrub stdlib log records of the named loggers (and their children) as they are made.

    httpx logs `HTTP Request: POST <url>` at INFO and the E2B SDK logs URLs at DEBUG; an
    application that raises those loggers' level would otherwise print credentials written
    into a URL. Installed once per process, as a log record factory (a logger's filter
    would not see its children's records); records of other loggers are left untouched.
    Only records that pass their logger's level are made, so a quiet logger costs nothing.
    """
    global _stdlib_redaction_installed
    if _stdlib_redaction_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        name = record.name
        if any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes):
            with contextlib.suppress(Exception):  # a record that cannot format stays as is
                message = record.getMessage()
                scrubbed = scrub_text(message)
                if scrubbed != message:
                    record.msg, record.args = scrubbed, None
        return record

    logging.setLogRecordFactory(factory)
    _stdlib_redaction_installed = True


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The structlog processor: the event scrubbed by `turnout.redaction.scrub_data`
    (secret-looking fields and values replaced with `[redacted]`, recursively)."""
    scrubbed: dict[str, Any] = scrub_data(event_dict, user_data_keys=frozenset())
    return scrubbed


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
    install_stdlib_redaction()


def get_logger(name: str) -> Any:
    """A structlog logger named after the turnout component that emits the events."""
    return structlog.get_logger(name)
