"""Tests for turnout.logging: events are stdlib records of `turnout.*` loggers, scrubbed
before any handler sees them, printed by nobody unless the application asked."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from turnout.logging import (
    EVENT_ATTRIBUTE,
    capture_logs,
    get_logger,
    install_stdlib_redaction,
    redact_secrets,
)
from turnout.redaction import REDACTED

E2B_KEY = "e2b_" + "a1B2c3D4e5F6g7H8i9J0"
OPENAI_KEY = "sk-" + "proj_ABCdef123456789xyz"
BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.payload.signature"


@pytest.fixture(autouse=True)
def reset_structlog() -> Iterator[None]:
    """Every test starts and ends with structlog's default configuration."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def redact(**event: Any) -> dict[str, Any]:
    """Run redact_secrets over an event dict the way structlog would."""
    return redact_secrets(None, "info", event)


class TestRedactSecretKeys:
    @pytest.mark.parametrize(
        "key",
        [
            "api_key",
            "apiKey",
            "api-key",
            "E2B_API_KEY",
            "token",
            "access_token",
            "password",
            "authorization",
            "Authorization",
            "client_secret",
            "credentials",
        ],
    )
    def test_secret_key_at_top_level(self, key: str) -> None:
        """A top-level field whose name looks secret has its value replaced."""
        assert redact(event="e", **{key: "plain-value"})[key] == REDACTED

    def test_secret_key_value_of_any_type_replaced(self) -> None:
        """The whole value of a secret key is replaced, even when it is not a string."""
        assert redact(event="e", token={"nested": [1, 2]})["token"] == REDACTED

    def test_secret_key_nested_in_mapping(self) -> None:
        """A secret-looking key deep inside nested mappings is redacted."""
        event = redact(event="e", request={"headers": {"Authorization": "Basic abc"}})
        assert event["request"] == {"headers": {"Authorization": REDACTED}}

    def test_secret_key_inside_list(self) -> None:
        """A secret-looking key inside a mapping inside a list is redacted."""
        event = redact(event="e", items=[{"password": "hunter2", "user": "bob"}])
        assert event["items"] == [{"password": REDACTED, "user": "bob"}]

    def test_ordinary_keys_untouched(self) -> None:
        """Fields with ordinary names and values are left as they are."""
        event = redact(event="started", backend="e2b", size=12, nested={"count": 3})
        assert event == {"event": "started", "backend": "e2b", "size": 12, "nested": {"count": 3}}

    def test_input_not_mutated(self) -> None:
        """The caller's nested data is not changed in place."""
        nested = {"password": "hunter2"}
        redact(event="e", data=nested)
        assert nested == {"password": "hunter2"}


class TestRedactSecretValues:
    def test_e2b_key_in_string(self) -> None:
        """An E2B key inside an ordinary message is replaced, the rest kept."""
        event = redact(event=f"using key {E2B_KEY} now")
        assert event["event"] == f"using key {REDACTED} now"

    def test_openai_style_key_in_string(self) -> None:
        """An sk-... key inside a string is replaced."""
        assert redact(event="e", note=f"key={OPENAI_KEY}")["note"] == f"key={REDACTED}"

    def test_bearer_token_in_string(self) -> None:
        """A Bearer token inside a header-like string is replaced."""
        event = redact(event="e", header=f"Authorisation: Bearer {BEARER_TOKEN}")
        assert event["header"] == f"Authorisation: {REDACTED}"

    def test_lowercase_bearer(self) -> None:
        """The bearer keyword is matched case-insensitively."""
        assert BEARER_TOKEN not in redact(event=f"bearer {BEARER_TOKEN}")["event"]

    def test_secret_value_deep_in_structure(self) -> None:
        """A secret-looking value inside lists and mappings is replaced."""
        event = redact(event="e", data={"a": [{"b": ("x", f"k {E2B_KEY}")}]})
        assert event["data"] == {"a": [{"b": ["x", f"k {REDACTED}"]}]}

    def test_several_secrets_in_one_string(self) -> None:
        """Every secret in one string is replaced."""
        event = redact(event=f"{E2B_KEY} and {OPENAI_KEY}")
        assert event["event"] == f"{REDACTED} and {REDACTED}"

    @pytest.mark.parametrize(
        "text",
        ["e2b_short", "sk-short", "Bearer short", "the e2b backend", "risk-free"],
    )
    def test_short_lookalikes_kept(self, text: str) -> None:
        """Text that only resembles a secret prefix is not redacted."""
        assert redact(event=text)["event"] == text

    def test_non_string_scalars_kept(self) -> None:
        """Numbers, booleans and None pass through unchanged."""
        event = redact(event="e", count=3, ratio=0.5, ok=True, nothing=None)
        assert (event["count"], event["ratio"], event["ok"], event["nothing"]) == (
            3,
            0.5,
            True,
            None,
        )


class TestNoUserDataExemption:
    def test_a_field_named_like_user_data_is_scrubbed_in_full(self) -> None:
        """Logs carry no user data, so `stdout` or `output` fields get the full scrubber
        (the envelope's exemption for the code's own text does not apply)."""
        event = redact(event="e", stdout="to http://u:hunter2pw@h/", output={"k": E2B_KEY})
        assert "hunter2pw" not in event["stdout"]
        assert event["output"] == {"k": REDACTED}


class TestRedactSecretsInPipeline:
    def test_processor_redacts_before_capture(self) -> None:
        """Used as a structlog processor, redaction happens before later processors see it."""
        capture = LogCapture()
        structlog.configure(processors=[redact_secrets, capture])
        structlog.get_logger().info("call", api_key="abc", url=f"x?key={E2B_KEY}")
        assert capture.entries == [
            {"event": "call", "api_key": REDACTED, "url": f"x?key={REDACTED}", "log_level": "info"}
        ]


class Records(logging.Handler):
    """An application's own handler: keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def app_handler() -> Iterator[Records]:
    """A handler the application attached to the root logger, with turnout at DEBUG."""
    handler, root, turnout = Records(), logging.getLogger(), logging.getLogger("turnout")
    root.addHandler(handler)
    turnout.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        turnout.setLevel(logging.NOTSET)


class TestEventRecords:
    def test_an_event_is_a_record_of_its_named_logger(self, app_handler: Records) -> None:
        """An event reaches the application's handlers as a record of its `turnout.*`
        logger, with a readable message and the fields as a dict."""
        get_logger("turnout.execution").info("code_node_executed", backend="e2b", n=3)
        [record] = app_handler.records
        assert (record.name, record.levelno) == ("turnout.execution", logging.INFO)
        assert record.getMessage() == "code_node_executed backend=e2b n=3"
        assert getattr(record, EVENT_ATTRIBUTE) == {
            "event": "code_node_executed",
            "backend": "e2b",
            "n": 3,
        }

    def test_the_record_names_the_caller(self, app_handler: Records) -> None:
        """The record's location is the code that logged, not turnout.logging."""
        get_logger("turnout.test").warning("here")
        assert app_handler.records[0].funcName == "test_the_record_names_the_caller"

    def test_a_canary_secret_is_scrubbed_before_any_handler(self, app_handler: Records) -> None:
        """A secret in a field, a label and the message is gone from what the
        application's own handler receives."""
        get_logger("turnout.test").info(f"using {E2B_KEY}", label_tenant=E2B_KEY, token="t0k")
        [record] = app_handler.records
        text = record.getMessage() + repr(getattr(record, EVENT_ATTRIBUTE))
        assert E2B_KEY not in text
        assert "t0k" not in text
        assert getattr(record, EVENT_ATTRIBUTE)["label_tenant"] == REDACTED

    def test_a_logged_traceback_is_scrubbed(self, app_handler: Records) -> None:
        """An exception's traceback travels as scrubbed text; a stdlib formatter prints it."""
        try:
            raise RuntimeError(f"upstream rejected {E2B_KEY}")
        except RuntimeError:
            get_logger("turnout.test").exception("failed")
        [record] = app_handler.records
        formatted = logging.Formatter().format(record)
        assert "RuntimeError" in formatted
        assert E2B_KEY not in formatted

    def test_exc_info_may_be_an_exception(self, app_handler: Records) -> None:
        """`exc_info=error` carries that error's traceback."""
        get_logger("turnout.test").error("failed", exc_info=ValueError("boom"))
        assert "ValueError: boom" in (app_handler.records[0].exc_text or "")

    def test_bound_fields_are_on_every_event(self, app_handler: Records) -> None:
        """Fields bound on a logger appear on every event it emits."""
        get_logger("turnout.test").bind(execution_id="e1").info("done")
        assert getattr(app_handler.records[0], EVENT_ATTRIBUTE)["execution_id"] == "e1"

    def test_a_level_nobody_listens_to_makes_no_record(self) -> None:
        """Below the logger's level nothing is scrubbed or made (the record factory is not
        even called)."""
        made: list[str] = []
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            made.append(args[0])
            return previous(*args, **kwargs)

        logging.setLogRecordFactory(factory)
        try:
            get_logger("turnout.test").info("unheard")
        finally:
            logging.setLogRecordFactory(previous)
        assert made == []

    def test_structlog_contextvars_of_the_application_are_merged(
        self, app_handler: Records
    ) -> None:
        """Fields an application bound with structlog.contextvars appear on events."""
        with structlog.contextvars.bound_contextvars(request_id="r1"):
            get_logger("turnout.test").info("done")
        assert getattr(app_handler.records[0], EVENT_ATTRIBUTE)["request_id"] == "r1"


class TestCaptureLogs:
    def test_collects_events_of_every_turnout_logger(self) -> None:
        """capture_logs sees turnout's and plugins' loggers, with the level name."""
        with capture_logs() as logs:
            get_logger("turnout.execution").debug("a", n=1)
            get_logger("turnout.e2b").warning("b")
        assert logs == [
            {"event": "a", "n": 1, "log_level": "debug"},
            {"event": "b", "log_level": "warning"},
        ]

    def test_restores_the_level(self) -> None:
        """After the block the turnout logger's level is what it was."""
        with capture_logs():
            pass
        assert logging.getLogger("turnout").level == logging.NOTSET


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (nothing configured), capturing both streams."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class TestQuietByDefault:
    def test_an_unconfigured_application_sees_nothing(self) -> None:
        """Warnings and errors of turnout print nothing when the application configured no
        logging (no last-resort handler on stderr), and nothing ever goes to stdout."""
        result = run_python(
            """
            from turnout.logging import get_logger
            log = get_logger("turnout.execution")
            log.error("fallback_to_legacy", error="boom")
            log.warning("shutdown_complete")
            log.info("code_node_executed")
            """
        )
        assert (result.stdout, result.stderr) == ("", "")

    def test_basic_config_shows_events_scrubbed(self) -> None:
        """With `logging.basicConfig`, events appear on stderr as readable lines, a canary
        label redacted."""
        result = run_python(
            f"""
            import logging
            logging.basicConfig(level=logging.INFO)
            from turnout.logging import get_logger
            get_logger("turnout.execution").info("code_node_executed", label_tenant="{E2B_KEY}")
            """
        )
        assert result.stdout == ""
        assert "code_node_executed label_tenant=[redacted]" in result.stderr
        assert E2B_KEY not in result.stderr

    def test_an_application_structlog_configuration_is_left_alone(self) -> None:
        """turnout neither configures structlog nor routes its events through the
        application's structlog processors."""
        result = run_python(
            """
            import structlog
            seen = []
            def keep(logger, method, event):
                seen.append(event["event"])
                raise structlog.DropEvent
            structlog.configure(processors=[keep])
            before = structlog.get_config()
            import turnout
            from turnout.logging import get_logger
            get_logger("turnout.execution").error("code_node_executed")
            structlog.get_logger("app").info("mine")
            assert structlog.get_config() == before
            print(seen)
            """
        )
        assert result.stdout == "['mine']\n"


class TestStdlibRedaction:
    def test_library_records_lose_url_credentials(self) -> None:
        """An httpx record, and a record of a child of the SDK's logger, quoting a URL with
        credentials are scrubbed when they are made."""
        install_stdlib_redaction()
        seen: list[str] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(record.getMessage())

        loggers = [logging.getLogger("httpx"), logging.getLogger("e2b")]
        handler, levels = Keep(), [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
        try:
            loggers[0].info("HTTP Request: %s %s", "POST", "http://u:hunter2pw@h/execute?t=tok99")
            logging.getLogger("e2b.sandbox_async.main").debug("to http://u:hunter2pw@h/")
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(handler)
                logger.setLevel(level)
        assert seen == [
            "HTTP Request: POST http://[redacted]@h/execute?t=[redacted]",
            "to http://[redacted]@h/",
        ]

    def test_other_loggers_are_left_alone(self) -> None:
        """Records of an application's own loggers are not rewritten."""
        install_stdlib_redaction()
        record = logging.getLogRecordFactory()(
            "app", logging.INFO, __file__, 1, "see %s", ("http://u:pw@h/",), None
        )
        assert record.getMessage() == "see http://u:pw@h/"
