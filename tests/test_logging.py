"""Tests for turnout.logging: the redaction processor and the structlog configuration."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from turnout.logging import (
    configure_logging,
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


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Parse every line written to `stream` as one JSON object."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class TestConfigureLoggingJson:
    def test_one_json_object_per_event(self) -> None:
        """Each event becomes exactly one line holding one JSON object."""
        stream = io.StringIO()
        configure_logging("production", json_lines=True, stream=stream)
        log = get_logger("turnout.test")
        log.info("first", n=1)
        log.warning("second", n=2)
        events = json_lines(stream)
        assert [event["event"] for event in events] == ["first", "second"]
        assert [event["n"] for event in events] == [1, 2]

    def test_level_and_timestamp_added(self) -> None:
        """Every JSON event carries its level and an ISO UTC timestamp."""
        stream = io.StringIO()
        configure_logging("production", json_lines=True, stream=stream)
        get_logger("turnout.test").warning("hello")
        (event,) = json_lines(stream)
        assert event["level"] == "warning"
        assert event["timestamp"].endswith("Z")

    def test_planted_secret_redacted(self) -> None:
        """A secret bound as a field or written in the message never reaches the stream."""
        stream = io.StringIO()
        configure_logging("production", json_lines=True, stream=stream)
        get_logger("turnout.test").info(f"key is {E2B_KEY}", E2B_API_KEY=E2B_KEY, token="t0k")
        text = stream.getvalue()
        assert E2B_KEY not in text
        assert "t0k" not in text
        (event,) = json_lines(stream)
        assert event["E2B_API_KEY"] == REDACTED
        assert event["event"] == f"key is {REDACTED}"

    def test_secret_in_exception_traceback_redacted(self) -> None:
        """A secret inside a logged exception's traceback text is redacted."""
        stream = io.StringIO()
        configure_logging("production", json_lines=True, stream=stream)
        try:
            raise RuntimeError(f"upstream rejected {E2B_KEY}")
        except RuntimeError:
            get_logger("turnout.test").exception("failed")
        assert E2B_KEY not in stream.getvalue()
        assert "RuntimeError" in json_lines(stream)[0]["exception"]

    def test_secret_in_bound_exception_object_redacted(self) -> None:
        """A secret in the text of a non-string field value (an exception) is redacted."""
        stream = io.StringIO()
        configure_logging("production", json_lines=True, stream=stream)
        error = ValueError(f"request with Bearer {BEARER_TOKEN} was refused")
        get_logger("turnout.test").warning("backend error", error=error)
        assert BEARER_TOKEN not in stream.getvalue()

    def test_level_filters(self) -> None:
        """Events below the configured level are dropped."""
        stream = io.StringIO()
        configure_logging("production", json_lines=True, stream=stream, level=logging.WARNING)
        log = get_logger("turnout.test")
        log.info("dropped")
        log.error("kept")
        assert [event["event"] for event in json_lines(stream)] == ["kept"]

    def test_non_development_defaults_to_json(self) -> None:
        """Outside development, json_lines=None means JSON output."""
        stream = io.StringIO()
        configure_logging("staging", stream=stream)
        get_logger("turnout.test").info("hello")
        assert json_lines(stream)[0]["event"] == "hello"

    def test_bound_context_kept(self) -> None:
        """Fields bound on a logger appear on every event it emits."""
        stream = io.StringIO()
        configure_logging("production", json_lines=True, stream=stream)
        get_logger("turnout.test").bind(execution_id="e1").info("done")
        assert json_lines(stream)[0]["execution_id"] == "e1"

    def test_contextvars_merged(self) -> None:
        """Context variables bound with structlog.contextvars appear on events."""
        stream = io.StringIO()
        configure_logging("production", json_lines=True, stream=stream)
        with structlog.contextvars.bound_contextvars(node="n1"):
            get_logger("turnout.test").info("done")
        assert json_lines(stream)[0]["node"] == "n1"


class TestConfigureLoggingConsole:
    def test_development_uses_console(self) -> None:
        """In development the output is a readable console line, not JSON."""
        stream = io.StringIO()
        configure_logging("development", stream=stream)
        get_logger("turnout.test").info("hello", n=1)
        line = stream.getvalue()
        assert "hello" in line
        assert "n=1" in line
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)

    def test_console_has_no_colour_codes(self) -> None:
        """The console renderer writes no ANSI escape codes."""
        stream = io.StringIO()
        configure_logging("development", stream=stream)
        get_logger("turnout.test").info("hello")
        assert "\x1b[" not in stream.getvalue()

    def test_console_redacts(self) -> None:
        """Console output is redacted too."""
        stream = io.StringIO()
        configure_logging("development", stream=stream)
        get_logger("turnout.test").info("hello", password="hunter2", note=OPENAI_KEY)
        text = stream.getvalue()
        assert "hunter2" not in text
        assert OPENAI_KEY not in text
        assert f"password={REDACTED}" in text

    def test_json_lines_false_forces_console(self) -> None:
        """json_lines=False gives console output even outside development."""
        stream = io.StringIO()
        configure_logging("production", json_lines=False, stream=stream)
        get_logger("turnout.test").info("hello")
        with pytest.raises(json.JSONDecodeError):
            json.loads(stream.getvalue())


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
