"""turnout's events: one per execution, never user data, never secrets, never printed
unless someone asked for it.

turnout follows the convention of a library embedded in an application: its events are
records of the standard library's `logging` loggers named `turnout.*` (`turnout.execution`,
`turnout.flags`, `turnout.e2b`, ...), the `turnout` logger has a `NullHandler` and no
handler of its own, and nothing is rendered unless the application configured logging. An
application that calls `logging.basicConfig(level=logging.INFO)` sees readable lines
(`code_node_executed backend=e2b duration_ms=41 ...`); a structured handler finds the
event as a dict in `record.turnout_event`. turnout never configures structlog nor the root
logger, so it neither clobbers an application's logging nor is clobbered by it.

Every event is scrubbed (`turnout.redaction.scrub_data`) before its record is made, so a
secret bound as a field or written in a message never reaches any handler, whoever
configured it. A logged exception's traceback is formatted and scrubbed here too, and
carried as `record.exc_text`. Events carry sizes and hashes of code, inputs and outputs,
never their content.

Rendering turnout's events as JSON lines or a console (what the CLI prints on stderr) is
`configure_logging`, in `turnout.log_output`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from turnout.redaction import scrub_data, scrub_text

if TYPE_CHECKING:
    from typing import TextIO

__all__ = [
    "EVENT_ATTRIBUTE",
    "LIBRARY_LOGGERS",
    "ROOT_LOGGER",
    "EventLogger",
    "capture_logs",
    "configure_logging",
    "event_of",
    "get_logger",
    "install_stdlib_redaction",
    "redact_secrets",
]

ROOT_LOGGER = "turnout"
#: The attribute of a `logging.LogRecord` holding turnout's event as a dict (`event` and
#: its fields, already scrubbed).
EVENT_ATTRIBUTE = "turnout_event"
#: Loggers of the libraries under the e2b backend (HTTP clients, E2B SDK): they log request
#: URLs, which carry whatever credentials an operator wrote into `api_url`.
LIBRARY_LOGGERS = ("httpx", "httpcore", "pyqwest", "e2b", "e2b_code_interpreter", "e2b_connect")

logging.getLogger(ROOT_LOGGER).addHandler(logging.NullHandler())
_stdlib_redaction_installed = False


class Emittable(Protocol):
    """An event defined in `turnout.log_events`: its name and its fields as emitted."""

    def wire(self) -> tuple[str, dict[str, Any]]: ...


class EventLogger:
    """A `logging` logger that takes an event name and fields: `log.info("event", k=v)`.

    Cheap when nobody listens: a level the logger does not emit costs one
    `isEnabledFor` check, no scrubbing and no record.
    """

    __slots__ = ("_bound", "_logger")

    def __init__(self, name: str, bound: Mapping[str, Any] | None = None) -> None:
        self._logger = logging.getLogger(name)
        self._bound = dict(bound or {})

    @property
    def name(self) -> str:
        return self._logger.name

    def bind(self, **fields: Any) -> EventLogger:
        """A logger adding `fields` to every event it emits."""
        return EventLogger(self._logger.name, {**self._bound, **fields})

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields)

    def critical(self, event: str, **fields: Any) -> None:
        self._emit(logging.CRITICAL, event, fields)

    def emit(self, event: Emittable, *, level: int = logging.INFO, exc_info: Any = None) -> None:
        """Emit an event of `turnout.log_events` (its name and fields come from there);
        `exc_info` logs an exception's traceback with it."""
        if not self._logger.isEnabledFor(level):
            return  # an application that logs nothing at this level pays for no fields
        name, fields = event.wire()
        if exc_info is not None:
            fields["exc_info"] = exc_info
        self._emit(level, name, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """`error` with the exception being handled (its traceback, scrubbed)."""
        fields.setdefault("exc_info", True)
        self._emit(logging.ERROR, event, fields)

    def _emit(self, level: int, event: str, fields: dict[str, Any]) -> None:
        logger = self._logger
        if not logger.isEnabledFor(level):
            return
        exc_info = fields.pop("exc_info", None)
        raw: dict[str, Any] = {"event": event, **_context_fields(), **self._bound, **fields}
        scrubbed: dict[str, Any] = scrub_data(raw, user_data_keys=frozenset())
        try:
            filename, line, function, _ = logger.findCaller(False, 3)
        except ValueError:  # no Python frame to name (called from C)
            filename, line, function = "(unknown file)", 0, "(unknown function)"
        record = logger.makeRecord(
            logger.name, level, filename, line, _message(scrubbed), (), None, function
        )
        setattr(record, EVENT_ATTRIBUTE, scrubbed)
        record.exc_text = _traceback_text(exc_info)
        logger.handle(record)


def get_logger(name: str) -> EventLogger:
    """The event logger named after the turnout component that emits the events (a name
    under `turnout.`, so that the `turnout` logger's handlers and level apply)."""
    return EventLogger(name)


def event_of(record: logging.LogRecord) -> dict[str, Any]:
    """A record as an event dict: turnout's own event, or `{"event": message}` (scrubbed)
    for a record some other code made."""
    event = getattr(record, EVENT_ATTRIBUTE, None)
    if isinstance(event, dict):
        return dict(event)
    return {"event": scrub_text(record.getMessage())}


def _context_fields() -> dict[str, Any]:
    """Fields an application bound with `structlog.contextvars`, when it uses structlog
    (turnout itself never imports structlog: it is not needed to log)."""
    contextvars = sys.modules.get("structlog.contextvars")
    if contextvars is None:
        return {}
    try:
        fields: dict[str, Any] = contextvars.get_contextvars()
    except Exception:
        return {}
    return fields


def _message(event: Mapping[str, Any]) -> str:
    """The record's text for plain handlers: `event key=value ...`."""
    parts = [str(event.get("event", ""))]
    parts += [f"{key}={_plain(value)}" for key, value in event.items() if key != "event"]
    return " ".join(parts)


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _traceback_text(exc_info: Any) -> str | None:
    """The scrubbed traceback of `exc_info` (True: the exception being handled)."""
    if not exc_info:
        return None
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    elif not isinstance(exc_info, tuple):
        exc_info = sys.exc_info()
    if exc_info[0] is None:
        return None
    return scrub_text("".join(traceback.format_exception(*exc_info)).rstrip("\n"))


class _Capture(logging.Handler):
    def __init__(self, entries: list[dict[str, Any]]) -> None:
        super().__init__(logging.DEBUG)
        self.entries = entries

    def emit(self, record: logging.LogRecord) -> None:
        entry = event_of(record)
        entry["log_level"] = record.levelname.lower()
        if record.exc_text:
            entry["exception"] = record.exc_text
        self.entries.append(entry)


@contextlib.contextmanager
def capture_logs(level: int = logging.DEBUG) -> Iterator[list[dict[str, Any]]]:
    """Collect the events of every `turnout.*` logger at `level` and above, as dicts with
    `event`, `log_level` and the fields (scrubbed, as any handler gets them); for tests
    and tools that read events (the chaos run, the bench)."""
    entries: list[dict[str, Any]] = []
    handler = _Capture(entries)
    logger = logging.getLogger(ROOT_LOGGER)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield entries
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def install_stdlib_redaction(prefixes: tuple[str, ...] = LIBRARY_LOGGERS) -> None:
    """Scrub stdlib log records of the named loggers (and their children) as they are made.

    httpx logs `HTTP Request: POST <url>` at INFO and the E2B SDK logs URLs at DEBUG; an
    application that raises those loggers' level would otherwise print credentials written
    into a URL. Installed once per process, as a log record factory chained to the one in
    place (a logger's filter would not see its children's records); records of other
    loggers are left untouched. Only records that pass their logger's level are made, so a
    quiet logger costs nothing. Every `Engine` installs it.
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


def redact_secrets(_logger: Any, _method: str, event_dict: Any) -> Any:
    """A structlog processor for applications that log with structlog themselves: the
    event scrubbed by `turnout.redaction.scrub_data` (secret-looking fields and values
    replaced with `[redacted]`, recursively). turnout's own events need none: they are
    scrubbed before their records are made."""
    return scrub_data(event_dict, user_data_keys=frozenset())


def configure_logging(
    environment: str = "development",
    *,
    json_lines: bool | None = None,
    stream: TextIO | None = None,
    level: int = logging.INFO,
) -> None:
    """Print turnout's events on `stream` (default stderr): see `turnout.log_output`."""
    from turnout.log_output import configure

    configure(environment, json_lines=json_lines, stream=stream, level=level)
