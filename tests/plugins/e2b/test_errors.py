"""The one mapping from E2B SDK failures to turnout errors."""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import e2b.exceptions
import e2b_code_interpreter.exceptions
import httpx
import pytest
from turnout_e2b.errors import SDK_EXCEPTION_TABLE, map_exception, translate_errors

from turnout.errors import ConfigurationError, InfrastructureError, InternalError, TurnoutError


class MalformedApi:
    """A loopback HTTP server that answers every request 201 with `body` (a broken API)."""

    def __init__(self) -> None:
        self.body = b"{}"
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(201)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def malformed_api() -> Iterator[MalformedApi]:
    api = MalformedApi()
    thread = threading.Thread(target=api.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.server.shutdown()
        api.server.server_close()


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
        ],
        ids=lambda e: type(e).__name__,
    )
    def test_raw_httpx_failures_are_retryable(self, raw: Exception) -> None:
        """Connection failures the SDK lets escape as httpx errors become retryable errors."""
        mapped = map_exception(raw, started=True)
        assert isinstance(mapped, InfrastructureError)
        assert mapped.retryable is True

    @pytest.mark.parametrize(
        ("body", "raw_type"),
        [(b"{}", KeyError), (b"<html>not json", json.JSONDecodeError)],
        ids=["missing-field", "not-json"],
    )
    async def test_a_malformed_api_response_is_a_retryable_infrastructure_error(
        self, malformed_api: MalformedApi, body: bytes, raw_type: type[Exception]
    ) -> None:
        """A create answered with a body the unmodified SDK cannot read (it raises a raw
        KeyError or JSONDecodeError from its own code) is the vendor's failure: retryable."""
        from e2b_code_interpreter import AsyncSandbox

        malformed_api.body = body
        with pytest.raises(InfrastructureError) as caught, translate_errors(started=False):
            await AsyncSandbox.create(
                api_key="e2b_" + "0" * 40,
                api_url=malformed_api.url,
                request_timeout=10,
            )
        assert isinstance(caught.value.__cause__, raw_type)
        assert caught.value.retryable is True
        assert caught.value.started is False

    @pytest.mark.parametrize(
        "raw",
        [KeyError("code"), ValueError("bad"), OSError(5, "I/O"), json.JSONDecodeError("x", "", 0)],
        ids=lambda e: type(e).__name__,
    )
    def test_builtin_exceptions_from_turnouts_own_code_are_internal_errors(
        self, raw: Exception
    ) -> None:
        """The same built-in exceptions raised outside the SDK (by turnout's own code) are a
        bug: a non-retryable InternalError that keeps the original as its cause."""
        with pytest.raises(InternalError) as caught, translate_errors(started=True):
            raise raw
        assert caught.value.retryable is False
        assert caught.value.__cause__ is raw
        assert "bug" in caught.value.message

    def test_an_exception_never_raised_is_not_the_vendors(self) -> None:
        """Without a traceback nothing shows that the SDK raised it: an InternalError."""
        assert isinstance(map_exception(KeyError("x"), started=False), InternalError)

    def test_unknown_exception_is_not_retryable(self) -> None:
        """Something nobody anticipated is reported, not retried blindly."""
        mapped = map_exception(RuntimeError("odd"), started=True)
        assert isinstance(mapped, InternalError)
        assert mapped.retryable is False

    def test_translate_errors_re_raises_turnout_errors_unchanged(self) -> None:
        """An error that is already a turnout error is never wrapped a second time."""
        original = ConfigurationError("already classified")
        with pytest.raises(ConfigurationError) as caught, translate_errors(started=False):
            raise original
        assert caught.value is original
