"""The one place where E2B SDK exceptions (and the raw failures that escape the SDK)
become turnout errors.

Every exception class the SDK defines has an explicit entry (a test enumerates them), so a
new SDK class shows up as a failing test rather than as a silently generic error. What the
entry decides: the turnout class, whether a retry can help, and whether the user's code may
already have started (`started` comes from the phase the failure happened in).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from turnout.errors import ConfigurationError, InfrastructureError, TurnoutError
from turnout_e2b.options import BACKEND_ID

__all__ = ["SDK_EXCEPTION_TABLE", "map_exception", "translate_errors"]

Factory = Callable[[BaseException, bool], TurnoutError]


def _infrastructure(retryable: bool, what: str) -> Factory:
    def build(exc: BaseException, started: bool) -> TurnoutError:
        return InfrastructureError(
            f"E2B {what}: {_describe(exc)}",
            retryable=retryable,
            started=started,
            backend=BACKEND_ID,
            retry_after=_retry_after(exc),
        )

    return build


def _configuration(advice: str) -> Factory:
    def build(exc: BaseException, started: bool) -> TurnoutError:
        return ConfigurationError(f"E2B refused the request: {_describe(exc)}; {advice}")

    return build


# Class name -> mapping, for every exception class in e2b.exceptions and
# e2b_code_interpreter.exceptions. Names, not classes, so importing this module does not
# import the SDK (turnout must start without it).
SDK_EXCEPTION_TABLE: dict[str, Factory] = {
    "SandboxException": _infrastructure(True, "sandbox failure"),
    "TimeoutException": _infrastructure(True, "timed out or lost the sandbox"),
    "SandboxNotRunningException": _infrastructure(True, "sandbox is no longer running"),
    "SandboxUnreachableException": _infrastructure(True, "sandbox is unreachable"),
    "GuestUnresponsiveException": _infrastructure(True, "sandbox stopped responding"),
    "NotFoundException": _infrastructure(True, "resource not found"),
    "SandboxNotFoundException": _infrastructure(True, "sandbox not found (it was killed)"),
    "FileNotFoundException": _infrastructure(True, "file not found in the sandbox"),
    "RateLimitException": _infrastructure(True, "rate limit reached"),
    "ServiceBusyException": _infrastructure(True, "service is busy"),
    "NotEnoughSpaceException": _infrastructure(False, "sandbox disk is full"),
    "InvalidArgumentException": _infrastructure(False, "rejected an argument turnout sent"),
    "AuthenticationException": _configuration(
        "check E2B_API_KEY on the workers that run executions"
    ),
    "TemplateException": _configuration(
        "check the e2b backend's `template` option in feature_flags.toml"
    ),
    "GitAuthException": _configuration("turnout does not use git in sandboxes"),
    "GitUpstreamException": _infrastructure(False, "git upstream failure"),
    "BuildException": _infrastructure(False, "template build failure"),
    "FileUploadException": _infrastructure(True, "file upload failed"),
    "VolumeException": _infrastructure(False, "volume failure"),
    "VolumeNotFoundException": _infrastructure(False, "volume not found"),
    "VolumePathNotFoundException": _infrastructure(False, "volume path not found"),
    "SecretException": _infrastructure(False, "secret failure"),
    "SecretNotFoundException": _infrastructure(False, "secret not found"),
}

# Failures the SDK lets escape raw (measured, see docs/backends/e2b.md).
_RAW: tuple[tuple[type[BaseException], Factory], ...] = (
    (httpx.ConnectError, _infrastructure(True, "could not be reached")),
    (httpx.TimeoutException, _infrastructure(True, "did not answer in time")),
    (httpx.RemoteProtocolError, _infrastructure(True, "dropped the connection")),
    (httpx.ReadError, _infrastructure(True, "connection failed while reading")),
    (httpx.WriteError, _infrastructure(True, "connection failed while writing")),
    (httpx.HTTPError, _infrastructure(True, "HTTP failure")),
    (json.JSONDecodeError, _infrastructure(True, "sent a malformed response")),
    (KeyError, _infrastructure(True, "sent a response missing a field")),
    (ValueError, _infrastructure(True, "sent an unexpected response")),
    (OSError, _infrastructure(True, "connection failure")),
)


def map_exception(exc: BaseException, *, started: bool) -> TurnoutError:
    """The turnout error for `exc`; the most specific SDK class in its MRO decides."""
    if isinstance(exc, TurnoutError):
        return exc
    for klass in type(exc).__mro__:
        if klass.__module__.startswith(("e2b.", "e2b_code_interpreter")) or klass.__module__ in (
            "e2b",
            "e2b_code_interpreter",
        ):
            factory = SDK_EXCEPTION_TABLE.get(klass.__name__)
            if factory is not None:
                return factory(exc, started)
    for raw_type, factory in _RAW:
        if isinstance(exc, raw_type):
            return factory(exc, started)
    return InfrastructureError(
        f"E2B backend failed unexpectedly: {_describe(exc)}",
        retryable=False,
        started=started,
        backend=BACKEND_ID,
    )


@contextmanager
def translate_errors(*, started: bool) -> Iterator[None]:
    """Re-raise anything but cancellation and turnout errors as one turnout error."""
    try:
        yield
    except (TurnoutError, asyncio.CancelledError):
        raise
    except Exception as exc:
        raise map_exception(exc, started=started) from exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or "no details"
    return f"{type(exc).__name__}: {text[:500]}"


def _retry_after(exc: BaseException) -> float | None:
    return 1.0 if type(exc).__name__ == "RateLimitException" else None
