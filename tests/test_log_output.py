"""Tests for turnout.log_output: turnout's events printed as JSON lines or a console."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from turnout.log_output import preserved
from turnout.logging import configure_logging, get_logger
from turnout.redaction import REDACTED

E2B_KEY = "e2b_" + "a1B2c3D4e5F6g7H8i9J0"
OPENAI_KEY = "sk-" + "proj_ABCdef123456789xyz"
BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.payload.signature"


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


class TestConfigureScope:
    def test_a_second_call_replaces_the_handler(self) -> None:
        """Configuring twice prints each event once, on the last stream."""
        first, second = io.StringIO(), io.StringIO()
        configure_logging("production", json_lines=True, stream=first)
        configure_logging("production", json_lines=True, stream=second)
        get_logger("turnout.test").info("once")
        assert first.getvalue() == ""
        assert len(json_lines(second)) == 1

    def test_the_root_logger_is_not_touched(self) -> None:
        """configure_logging adds no handler to the root logger and keeps its level."""
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        configure_logging("production", json_lines=True, stream=io.StringIO())
        assert (root.handlers, root.level) == (handlers, level)

    def test_preserved_puts_the_configuration_back(self) -> None:
        """Whatever a tool configures inside `preserved()` is undone after it."""
        outer = io.StringIO()
        configure_logging("production", json_lines=True, stream=outer)
        with preserved():
            configure_logging("production", json_lines=True, stream=io.StringIO())
        get_logger("turnout.test").info("after")
        assert json_lines(outer)[0]["event"] == "after"


def test_non_json_values_are_written_as_their_repr() -> None:
    """A field JSON cannot hold (an object) is written as its repr, not an error."""
    stream = io.StringIO()
    configure_logging("production", json_lines=True, stream=stream)
    get_logger("turnout.test").info("e", value=ValueError("v"))
    assert json_lines(stream)[0]["value"] == "ValueError('v')"
