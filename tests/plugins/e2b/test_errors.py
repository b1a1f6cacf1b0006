"""The one mapping from E2B SDK failures to turnout errors."""

from __future__ import annotations

import inspect
import json

import e2b.exceptions
import e2b_code_interpreter.exceptions
import httpx
import pytest
from turnout_e2b.errors import SDK_EXCEPTION_TABLE, map_exception, translate_errors

from turnout.errors import ConfigurationError, InfrastructureError, TurnoutError


def sdk_exception_classes() -> list[type[BaseException]]:
    classes = []
    for module in (e2b.exceptions, e2b_code_interpreter.exceptions):
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                classes.append(value)
    return classes


def instantiate(klass: type[BaseException]) -> BaseException:
    try:
        return klass("boom")
    except TypeError:
        return klass.__new__(klass)


class TestSdkExceptionTable:
    @pytest.mark.parametrize("klass", sdk_exception_classes(), ids=lambda k: k.__name__)
    def test_every_sdk_exception_class_has_an_explicit_entry(
        self, klass: type[BaseException]
    ) -> None:
        """Each exception class the SDK defines is named in the table (no silent fallback)."""
        assert klass.__name__ in SDK_EXCEPTION_TABLE

    @pytest.mark.parametrize("klass", sdk_exception_classes(), ids=lambda k: k.__name__)
    def test_every_sdk_exception_maps_to_a_turnout_error(self, klass: type[BaseException]) -> None:
        """Mapping any SDK exception yields a turnout error, never the raw exception."""
        mapped = map_exception(instantiate(klass), started=False)
        assert isinstance(mapped, TurnoutError)

    def test_rate_limit_is_retryable_with_retry_after(self) -> None:
        """A rate limit is a retryable infrastructure error that suggests when to retry."""
        mapped = map_exception(e2b.exceptions.RateLimitException("slow down"), started=False)
        assert isinstance(mapped, InfrastructureError)
        assert (mapped.retryable, mapped.retry_after) == (True, 1.0)

    def test_authentication_failure_is_a_configuration_error(self) -> None:
        """A rejected key is not retryable: an operator has to fix E2B_API_KEY."""
        mapped = map_exception(e2b.exceptions.AuthenticationException("bad key"), started=False)
        assert isinstance(mapped, ConfigurationError)
        assert "E2B_API_KEY" in mapped.message

    def test_started_flag_follows_the_phase(self) -> None:
        """`started` records whether user code may have run when the failure happened."""
        error = e2b.exceptions.SandboxNotFoundException("gone")
        assert map_exception(error, started=True).started is True  # type: ignore[attr-defined]
        assert map_exception(error, started=False).started is False  # type: ignore[attr-defined]


class TestRawFailures:
    @pytest.mark.parametrize(
        "raw",
        [
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("dropped"),
            json.JSONDecodeError("bad", "x", 0),
            KeyError("code"),
        ],
        ids=lambda e: type(e).__name__,
    )
    def test_raw_failures_escaping_the_sdk_are_retryable(self, raw: Exception) -> None:
        """Connection and decoding failures the SDK lets escape become retryable errors."""
        mapped = map_exception(raw, started=True)
        assert isinstance(mapped, InfrastructureError)
        assert mapped.retryable is True

    def test_unknown_exception_is_not_retryable(self) -> None:
        """Something nobody anticipated is reported, not retried blindly."""
        mapped = map_exception(RuntimeError("odd"), started=True)
        assert isinstance(mapped, InfrastructureError)
        assert mapped.retryable is False

    def test_translate_errors_re_raises_turnout_errors_unchanged(self) -> None:
        """An error that is already a turnout error is never wrapped a second time."""
        original = ConfigurationError("already classified")
        with pytest.raises(ConfigurationError) as caught, translate_errors(started=False):
            raise original
        assert caught.value is original
