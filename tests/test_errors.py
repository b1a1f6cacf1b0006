"""Tests for turnout.errors: the error tree, retryability and the JSON shapes."""

from __future__ import annotations

import asyncio
import json

import pytest

from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    ExecutionInterruptedError,
    InfrastructureError,
    InternalError,
    TurnoutError,
    ValidationError,
)


class TestErrorTree:
    @pytest.mark.parametrize(
        "error_type",
        [
            ValidationError,
            ConfigurationError,
            CodeExecutionError,
            InfrastructureError,
            InternalError,
        ],
    )
    def test_every_error_is_a_turnout_error(self, error_type: type[TurnoutError]) -> None:
        """Every concrete error class derives from TurnoutError, so one except catches all."""
        assert issubclass(error_type, TurnoutError)

    def test_turnout_error_is_an_exception(self) -> None:
        """TurnoutError is an ordinary Exception, so generic handlers still see it."""
        assert issubclass(TurnoutError, Exception)

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            (ValidationError, ConfigurationError),
            (ValidationError, CodeExecutionError),
            (ValidationError, InfrastructureError),
            (ConfigurationError, CodeExecutionError),
            (ConfigurationError, InfrastructureError),
            (CodeExecutionError, InfrastructureError),
            (InternalError, ValidationError),
            (InternalError, ConfigurationError),
            (InternalError, CodeExecutionError),
            (InternalError, InfrastructureError),
        ],
    )
    def test_branches_are_disjoint(self, first: type, second: type) -> None:
        """No branch of the tree is a subclass of another, so callers can tell them apart."""
        assert not issubclass(first, second)
        assert not issubclass(second, first)

    def test_message_is_kept_and_is_str(self) -> None:
        """The message is stored as `.message` and is what str() shows."""
        error = ConfigurationError("flags file missing")
        assert error.message == "flags file missing"
        assert str(error) == "flags file missing"


class TestTurnoutError:
    def test_not_retryable_by_default(self) -> None:
        """A bare TurnoutError says a retry will not help."""
        assert TurnoutError("x").retryable is False

    def test_to_dict_shape(self) -> None:
        """to_dict carries the class name, the message and retryable."""
        assert TurnoutError("boom").to_dict() == {
            "type": "TurnoutError",
            "message": "boom",
            "retryable": False,
        }


class TestValidationError:
    def test_message_names_field_and_problem(self) -> None:
        """The message starts with the field path and then the problem."""
        error = ValidationError("inputVariables.2", "must be a string")
        assert error.message == "inputVariables.2: must be a string"

    def test_message_includes_allowed_when_given(self) -> None:
        """When `allowed` is given, the message says what would have been accepted."""
        error = ValidationError("timeout", "is too large", "1 to 300000")
        assert error.message == "timeout: is too large (allowed: 1 to 300000)"
        assert error.allowed == "1 to 300000"

    def test_attributes_kept(self) -> None:
        """field and problem are kept as attributes for programmatic use."""
        error = ValidationError("code", "is required")
        assert (error.field, error.problem, error.allowed) == ("code", "is required", None)

    def test_not_retryable(self) -> None:
        """Bad input stays bad: a validation error is never retryable."""
        assert ValidationError("code", "is required").retryable is False

    def test_to_dict_includes_field(self) -> None:
        """to_dict adds the field path to the base shape."""
        assert ValidationError("language", "is required").to_dict() == {
            "type": "ValidationError",
            "message": "language: is required",
            "retryable": False,
            "field": "language",
        }


class TestConfigurationError:
    def test_not_retryable(self) -> None:
        """A misconfigured deployment needs an operator, so it is not retryable."""
        assert ConfigurationError("no key").retryable is False

    def test_to_dict_shape(self) -> None:
        """to_dict is the base shape with the class name ConfigurationError."""
        assert ConfigurationError("no key").to_dict() == {
            "type": "ConfigurationError",
            "message": "no key",
            "retryable": False,
        }


class TestCodeExecutionError:
    def test_never_retryable(self) -> None:
        """User-code failures are never retryable, whatever the kind."""
        for kind in ("syntax", "runtime", "timeout", "memory", "import"):
            assert CodeExecutionError(kind, "x").retryable is False  # type: ignore[arg-type]

    def test_class_attribute_not_retryable(self) -> None:
        """The class itself declares retryable False, not only its instances."""
        assert CodeExecutionError.retryable is False

    def test_details_kept(self) -> None:
        """Every detail passed in is available as an attribute."""
        error = CodeExecutionError(
            "runtime",
            "ZeroDivisionError: division by zero",
            name="ZeroDivisionError",
            line=3,
            stdout="out",
            stderr="err",
            traceback="Traceback ...",
            language="python",
        )
        assert error.kind == "runtime"
        assert error.name == "ZeroDivisionError"
        assert error.line == 3
        assert (error.stdout, error.stderr) == ("out", "err")
        assert error.traceback == "Traceback ..."
        assert error.language == "python"

    def test_defaults(self) -> None:
        """Without details, output is empty and name/line/traceback are unknown."""
        error = CodeExecutionError("timeout", "too slow")
        assert (error.stdout, error.stderr) == ("", "")
        assert error.name is None
        assert error.line is None
        assert error.traceback is None

    def test_to_dict_with_line_and_name(self) -> None:
        """to_dict includes kind, stdout, stderr, and name and line when known."""
        error = CodeExecutionError(
            "syntax", "bad", name="SyntaxError", line=7, stdout="a", stderr="b"
        )
        assert error.to_dict() == {
            "type": "CodeExecutionError",
            "message": "bad",
            "retryable": False,
            "kind": "syntax",
            "stdout": "a",
            "stderr": "b",
            "name": "SyntaxError",
            "line": 7,
        }

    def test_to_dict_omits_unknown_line_and_name(self) -> None:
        """When the line and name are unknown, to_dict leaves them out rather than null."""
        data = CodeExecutionError("memory", "too big").to_dict()
        assert "line" not in data
        assert "name" not in data
        assert data["kind"] == "memory"

    def test_to_dict_keeps_line_zero(self) -> None:
        """A known line is included even when it is falsy (0), since only None means unknown."""
        assert CodeExecutionError("syntax", "x", line=0).to_dict()["line"] == 0

    def test_to_dict_is_json_serialisable(self) -> None:
        """The dict is plain JSON, as the CLI prints it."""
        error = CodeExecutionError("runtime", "é", line=1, stdout="😀")
        assert json.loads(json.dumps(error.to_dict())) == error.to_dict()


class TestInfrastructureError:
    def test_retryable_by_default(self) -> None:
        """An infrastructure failure is retryable unless said otherwise."""
        assert InfrastructureError("sandbox died").retryable is True

    def test_class_attribute_retryable(self) -> None:
        """The class declares retryable True, so callers checking the type agree."""
        assert InfrastructureError.retryable is True

    def test_can_be_marked_not_retryable(self) -> None:
        """A caller can mark a specific infrastructure failure as not retryable."""
        assert InfrastructureError("quota", retryable=False).retryable is False

    def test_not_retryable_instance_does_not_change_the_class(self) -> None:
        """Marking one instance not retryable leaves other instances retryable."""
        InfrastructureError("quota", retryable=False)
        assert InfrastructureError("other").retryable is True

    def test_defaults(self) -> None:
        """By default the code is not started, with no retry_after and no backend."""
        error = InfrastructureError("x")
        assert error.started is False
        assert error.retry_after is None
        assert error.backend is None

    def test_carries_retry_after_and_started(self) -> None:
        """retry_after, started and backend are kept as given."""
        error = InfrastructureError("rate limited", retry_after=2.5, started=True, backend="e2b")
        assert error.retry_after == 2.5
        assert error.started is True
        assert error.backend == "e2b"

    def test_to_dict_minimal(self) -> None:
        """to_dict marks the kind as infrastructure and omits unknown optional fields."""
        assert InfrastructureError("down").to_dict() == {
            "type": "InfrastructureError",
            "message": "down",
            "retryable": True,
            "kind": "infrastructure",
        }

    def test_to_dict_with_retry_after_and_backend(self) -> None:
        """to_dict includes retry_after and backend when they are known."""
        data = InfrastructureError(
            "slow down", retryable=False, retry_after=3.0, backend="e2b"
        ).to_dict()
        assert data == {
            "type": "InfrastructureError",
            "message": "slow down",
            "retryable": False,
            "kind": "infrastructure",
            "retry_after": 3.0,
            "backend": "e2b",
        }


class TestExecutionInterruptedError:
    def test_is_a_retryable_infrastructure_error_started(self) -> None:
        """A shutdown interruption is retryable on another worker, and the code may have run."""
        error = ExecutionInterruptedError("execution interrupted: the worker is shutting down")
        assert isinstance(error, InfrastructureError)
        assert (error.retryable, error.started) == (True, True)

    def test_is_not_a_cancellation(self) -> None:
        """It is an ordinary Exception, never an asyncio.CancelledError: a caller's
        cancellation stays cancellation and this error never ends a task as cancelled."""
        assert not issubclass(ExecutionInterruptedError, asyncio.CancelledError)


class TestInternalError:
    def test_never_retryable(self) -> None:
        """A bug meets the same bug on the next try: never retryable."""
        assert InternalError.retryable is False
        assert InternalError("KeyError: 'x'").retryable is False

    def test_to_dict_shape(self) -> None:
        """to_dict says kind `internal` and names the backend when known."""
        assert InternalError("KeyError: 'x'", backend="e2b").to_dict() == {
            "type": "InternalError",
            "message": "KeyError: 'x'",
            "retryable": False,
            "kind": "internal",
            "backend": "e2b",
        }


class TestWarnings:
    def test_no_warnings_by_default(self) -> None:
        """An error without config warnings has none and leaves them out of to_dict."""
        error = ConfigurationError("no key")
        assert list(error.warnings) == []
        assert "warnings" not in error.to_dict()

    def test_warnings_are_kept_once_and_serialized(self) -> None:
        """Warnings added to an error are an attribute and a `warnings` list in to_dict,
        each once, in the order given."""
        error = CodeExecutionError("timeout", "too slow")
        error.add_warnings(["timeout is 30 ms", "unknown config field 'memoryLimit' ignored"])
        error.add_warnings(["timeout is 30 ms"])
        assert list(error.warnings) == [
            "timeout is 30 ms",
            "unknown config field 'memoryLimit' ignored",
        ]
        assert error.to_dict()["warnings"] == list(error.warnings)

    def test_warnings_of_one_error_are_not_shared(self) -> None:
        """Adding warnings to one error leaves every other error without them."""
        InfrastructureError("a").add_warnings(["w"])
        assert list(InfrastructureError("b").warnings) == []


SECRET_PASSWORD = "pw-" + "4f1c9a0e7b2d"
SECRET_URL = f"http://turnout:{SECRET_PASSWORD}@127.0.0.1:1/v2/sandboxes"


class TestSecretsAreScrubbed:
    def test_the_message_loses_url_credentials(self) -> None:
        """A message quoting a URL with credentials keeps the host and loses the password,
        in `message`, `str()` and `to_dict()`."""
        error = InfrastructureError(f"E2B could not be reached: {SECRET_URL}")
        shown = [error.message, str(error), json.dumps(error.to_dict())]
        assert not [text for text in shown if SECRET_PASSWORD in text]
        assert "127.0.0.1:1/v2/sandboxes" in error.message

    def test_a_known_secret_value_is_removed_from_every_field(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """E2B_API_KEY's value is removed from each field of each error class."""
        key = "HostKey" + "0d9e8f7a6b5c4d3e"
        monkeypatch.setenv("E2B_API_KEY", key)
        errors: list[TurnoutError] = [
            ValidationError(f"ctx.{key}", f"bad {key}", f"not {key}"),
            ConfigurationError(f"interpreter {key!r} was not found"),
            InfrastructureError(f"refused {key}", backend=f"b-{key}"),
            CodeExecutionError(
                "runtime", key, name=key, stdout=key, stderr=key, traceback=key, language="python"
            ),
        ]
        for error in errors:
            assert key not in repr(vars(error)) + str(error), type(error).__name__

    def test_printed_output_keeps_urls_but_loses_known_values(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A CodeExecutionError's stdout is the code's: only known secret values go."""
        monkeypatch.setenv("E2B_API_KEY", "HostKey" + "0d9e8f7a6b5c4d3e")
        error = CodeExecutionError("runtime", "x", stdout=f"{SECRET_URL} HostKey0d9e8f7a6b5c4d3e\n")
        assert error.stdout == f"{SECRET_URL} [redacted]\n"

    def test_the_cause_an_error_is_built_from_is_scrubbed(self) -> None:
        """Built while handling a library exception, the error scrubs that exception's text
        too, so a traceback of the chain shows no credentials."""
        import traceback

        try:
            try:
                raise ConnectionError(f"error sending request for url ({SECRET_URL})")
            except ConnectionError as exc:
                raise InfrastructureError(f"unreachable: {exc}") from exc
        except InfrastructureError as error:
            printed = "".join(traceback.format_exception(error))
        assert "ConnectionError" in printed
        assert SECRET_PASSWORD not in printed
