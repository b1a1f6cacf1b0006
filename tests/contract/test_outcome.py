"""Tests for turnout.contract.outcome: reading a backend's observations back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from turnout.contract.outcome import DecodedOutput, decode_result
from turnout.errors import CodeExecutionError, InfrastructureError
from turnout.models import ExecutionResult

TIMEOUT_MS = 1500
MAX_RESULT_BYTES = 4096
BACKEND = "fake-backend"


def outcome_bytes(**outcome: Any) -> bytes:
    """An outcome object as the runtime writes it to the result file."""
    return json.dumps(outcome).encode()


def decode(result: ExecutionResult) -> DecodedOutput:
    """decode_result with this module's fixed timeout, limit and backend name."""
    return decode_result(
        result,
        language="python",
        timeout_ms=TIMEOUT_MS,
        max_result_bytes=MAX_RESULT_BYTES,
        backend=BACKEND,
    )


def failure(result: ExecutionResult) -> CodeExecutionError:
    """The CodeExecutionError decode_result raises for `result`."""
    with pytest.raises(CodeExecutionError) as caught:
        decode(result)
    return caught.value


class TestDecodeOk:
    @pytest.mark.parametrize("channel", ["return", "result", "last", "none"])
    def test_value_and_channel(self, channel: str) -> None:
        """An ok outcome returns its value and the channel it came through."""
        result = ExecutionResult(
            result=outcome_bytes(ok=True, value={"a": [1, 2]}, channel=channel)
        )
        assert decode(result) == DecodedOutput({"a": [1, 2]}, channel)  # type: ignore[arg-type]

    def test_null_value(self) -> None:
        """An ok outcome with a null value returns None."""
        result = ExecutionResult(result=outcome_bytes(ok=True, value=None, channel="none"))
        assert decode(result).value is None

    def test_unicode_value(self) -> None:
        """Escaped non-ASCII text and lone surrogates in the value are decoded exactly."""
        raw = b'{"ok":true,"value":"\\u00e9\\ud83d\\ude00\\ud800","channel":"return"}'
        assert decode(ExecutionResult(result=raw)).value == "é😀\ud800"

    def test_ok_wins_over_timeout_termination(self) -> None:
        """An outcome file is the truth even when the backend also reports a timeout."""
        result = ExecutionResult(
            result=outcome_bytes(ok=True, value=1, channel="return"), termination="timeout"
        )
        assert decode(result).value == 1

    def test_ok_wins_over_non_zero_exit(self) -> None:
        """A written outcome is used even if the process then exited non-zero."""
        result = ExecutionResult(
            result=outcome_bytes(ok=True, value=2, channel="result"), exit_code=3
        )
        assert decode(result) == DecodedOutput(2, "result")


class TestDecodeError:
    def test_error_outcome_details(self) -> None:
        """An error outcome raises CodeExecutionError with kind, name, line and traceback."""
        result = ExecutionResult(
            stdout="printed\n",
            stderr="warned\n",
            result=outcome_bytes(
                ok=False,
                kind="runtime",
                name="ZeroDivisionError",
                message="division by zero",
                line=4,
                traceback="Traceback (most recent call last): ...",
            ),
        )
        error = failure(result)
        assert error.kind == "runtime"
        assert error.name == "ZeroDivisionError"
        assert error.line == 4
        assert error.traceback == "Traceback (most recent call last): ..."
        assert (error.stdout, error.stderr) == ("printed\n", "warned\n")

    def test_error_message_prefixed_with_name(self) -> None:
        """The message reads `Name: message` when the error has a name."""
        result = ExecutionResult(
            result=outcome_bytes(ok=False, kind="syntax", name="SyntaxError", message="bad")
        )
        assert failure(result).message == "SyntaxError: bad"

    def test_error_message_without_name(self) -> None:
        """Without a name, the message is used as it is."""
        result = ExecutionResult(result=outcome_bytes(ok=False, kind="runtime", message="thrown"))
        error = failure(result)
        assert error.message == "thrown"
        assert error.name is None

    def test_language_recorded(self) -> None:
        """The error records the node's language."""
        result = ExecutionResult(result=outcome_bytes(ok=False, kind="import", message="m"))
        with pytest.raises(CodeExecutionError) as caught:
            decode_result(
                result,
                language="javascript",
                timeout_ms=TIMEOUT_MS,
                max_result_bytes=MAX_RESULT_BYTES,
                backend=BACKEND,
            )
        assert caught.value.language == "javascript"

    @pytest.mark.parametrize(
        "kind",
        [
            "syntax",
            "runtime",
            "timeout",
            "memory",
            "output_too_large",
            "output_not_serializable",
            "import",
        ],
    )
    def test_known_kinds_kept(self, kind: str) -> None:
        """Every documented kind in an outcome is kept as the error's kind."""
        result = ExecutionResult(result=outcome_bytes(ok=False, kind=kind, message="m"))
        assert failure(result).kind == kind

    @pytest.mark.parametrize("kind", ["weird", None, 3])
    def test_unknown_kind_falls_back_to_runtime(self, kind: object) -> None:
        """An unknown or missing kind is reported as a runtime error."""
        result = ExecutionResult(result=outcome_bytes(ok=False, kind=kind, message="m"))
        assert failure(result).kind == "runtime"

    def test_ok_must_be_true_exactly(self) -> None:
        """An outcome whose ok is truthy but not true is an error, not a value."""
        result = ExecutionResult(result=outcome_bytes(ok=1, value=5, channel="return"))
        assert failure(result).kind == "runtime"

    def test_user_error_is_not_retryable(self) -> None:
        """A decoded user error says a retry will not help."""
        result = ExecutionResult(result=outcome_bytes(ok=False, kind="runtime", message="m"))
        assert failure(result).retryable is False


class TestDecodeCorruptResult:
    @pytest.mark.parametrize(
        "raw",
        [b"", b"{not json", b'{"ok": true, "value": NaN, "channel": "return"}', b"\xff\xfe\x00"],
    )
    def test_unreadable_result_is_runtime_error(self, raw: bytes) -> None:
        """Result bytes that are not strict JSON are a runtime error saying the file is corrupt."""
        error = failure(ExecutionResult(result=raw))
        assert error.kind == "runtime"
        assert "corrupted" in error.message

    @pytest.mark.parametrize("raw", [b"[]", b"null", b"5", b'"text"'])
    def test_json_that_is_not_an_object_is_runtime_error(self, raw: bytes) -> None:
        """A result file holding JSON that is not an outcome object is a runtime error."""
        assert failure(ExecutionResult(result=raw)).kind == "runtime"

    def test_ok_without_channel_is_runtime_error(self) -> None:
        """An ok outcome missing its channel is a corrupted result, reported as a runtime error."""
        assert failure(ExecutionResult(result=b'{"ok": true, "value": 1}')).kind == "runtime"

    def test_corrupt_result_keeps_output(self) -> None:
        """A corrupted-result error still carries what the code printed."""
        error = failure(ExecutionResult(result=b"{", stdout="out", stderr="err"))
        assert (error.stdout, error.stderr) == ("out", "err")


class TestDecodeTooLarge:
    def test_result_too_large(self) -> None:
        """A result over the limit is an output_too_large error naming the limit."""
        error = failure(ExecutionResult(result_too_large=True))
        assert error.kind == "output_too_large"
        assert str(MAX_RESULT_BYTES) in error.message

    def test_too_large_wins_over_result_bytes(self) -> None:
        """When the backend says the result was too large, partial bytes are not decoded."""
        result = ExecutionResult(
            result_too_large=True, result=outcome_bytes(ok=True, value=1, channel="return")
        )
        assert failure(result).kind == "output_too_large"


class TestDecodeWithoutResult:
    def test_timeout(self) -> None:
        """No outcome and a timeout termination is a timeout error naming the limit."""
        error = failure(ExecutionResult(termination="timeout", stdout="partial"))
        assert error.kind == "timeout"
        assert str(TIMEOUT_MS) in error.message
        assert error.stdout == "partial"

    def test_timeout_under_a_second_names_the_likely_unit_mistake(self) -> None:
        """A timeout of 30 ms says that timeout is in milliseconds and what to store if 30
        seconds were meant (an editor that saves seconds stores 30)."""
        with pytest.raises(CodeExecutionError) as caught:
            decode_result(
                ExecutionResult(termination="timeout"),
                language="python",
                timeout_ms=30,
                max_result_bytes=MAX_RESULT_BYTES,
                backend=BACKEND,
            )
        message = caught.value.message
        assert "30 ms" in message
        assert "milliseconds" in message
        assert "30000" in message

    def test_a_timeout_of_a_second_or_more_does_not_suspect_units(self) -> None:
        """From 1000 ms on the timeout message says nothing about units."""
        assert "milliseconds" not in failure(ExecutionResult(termination="timeout")).message

    def test_memory(self) -> None:
        """No outcome and a memory termination is a memory error."""
        assert failure(ExecutionResult(termination="memory")).kind == "memory"

    def test_killed_is_infrastructure(self) -> None:
        """No outcome and a kill from outside is a retryable infrastructure error, started."""
        with pytest.raises(InfrastructureError) as caught:
            decode(ExecutionResult(termination="killed"))
        error = caught.value
        assert error.started is True
        assert error.retryable is True
        assert error.backend == BACKEND
        assert BACKEND in error.message

    @pytest.mark.parametrize("exit_code", [0, 1, 137, None])
    def test_exited_without_result_is_runtime(self, exit_code: int | None) -> None:
        """A program that exited without an outcome is a runtime error naming the exit code."""
        error = failure(ExecutionResult(termination="exited", exit_code=exit_code))
        assert error.kind == "runtime"
        assert f"exit code {exit_code}" in error.message
