"""structlog set-up: one event per execution, never user data, never secrets.

Events carry sizes and hashes of code, inputs and outputs, never their content. The
`redact_secrets` processor runs last before rendering, so nothing a caller binds (an API key
passed as a field, a token inside a message) reaches a log line.

Rendering: a readable console in `development`, JSON lines everywhere else (one object per
line, the shape `turnout rollout report` reads). Applications that embed turnout and
configure structlog themselves should add `redact_secrets` to their own processor chain.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "REDACTED",
    "configure_logging",
    "get_logger",
    "install_stdlib_redaction",
    "redact_secrets",
    "redact_text",
    "redact_url",
]

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"(secret|token|password|passwd|api[_-]?key|authorization|credential)", re.IGNORECASE
)
_SECRET_VALUE = re.compile(
    r"(e2b_[A-Za-z0-9]{16,}|sk-[A-Za-z0-9_-]{16,}|(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*)"
)


# Credentials written into a URL: the userinfo (`https://user:pw@host`) and every query value
# (`?token=...`, a signed proxy URL). Neither is needed to say where calls go.
_URL_USERINFO = re.compile(r"(?<=://)[^/\s@?#]+@")
_URL_QUERY = re.compile(r"(://[^\s?#]*\?)([^\s#]*)")
_QUERY_VALUE = re.compile(r"=[^&;]*")
#: Loggers of the libraries under the e2b backend (HTTP clients, E2B SDK): they log request
#: URLs, which carry whatever credentials an operator wrote into `api_url`.
LIBRARY_LOGGERS = ("httpx", "httpcore", "pyqwest", "e2b", "e2b_code_interpreter", "e2b_connect")
_stdlib_redaction_installed = False


def redact_url(url: str) -> str:
    """`url` with its userinfo and every query value replaced by `[redacted]`."""
    without_user = _URL_USERINFO.sub(f"{REDACTED}@", url)
    return _URL_QUERY.sub(
        lambda match: match.group(1) + _QUERY_VALUE.sub(f"={REDACTED}", match.group(2)),
        without_user,
    )


def redact_text(text: str) -> str:
    """Free text with secret-looking values and URL credentials replaced by `[redacted]`."""
    if "://" in text:
        text = redact_url(text)
    return _SECRET_VALUE.sub(REDACTED, text)


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
                scrubbed = redact_text(message)
                if scrubbed != message:
                    record.msg, record.args = scrubbed, None
        return record

    logging.setLogRecordFactory(factory)
    _stdlib_redaction_installed = True


def _scrub(value: object) -> object:
    if isinstance(value, str):
        return redact_text(value)
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
    scrubbed = redact_text(text)
    return scrubbed if scrubbed != text else value


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
    install_stdlib_redaction()


def get_logger(name: str) -> Any:
    """A structlog logger named after the turnout component that emits the events."""
    return structlog.get_logger(name)
