"""The one place where E2B SDK exceptions (and the raw failures that escape the SDK)
become turnout errors.

Every exception class the SDK defines has an explicit entry (a test enumerates them), so a
new SDK class shows up as a failing test rather than as a silently generic error. What the
entry decides: the turnout class, whether a retry can help, and whether the user's code may
already have started (`started` comes from the phase the failure happened in).

Only vendor and transport failures are translated. A built-in exception (`KeyError`,
`ValueError`, `OSError`, ...) is a transport failure only when the SDK or its transport
raised it: the innermost frame of its traceback that is not the standard library's must
belong to one of `VENDOR_PACKAGES`. Raised by turnout's own code (a callback the SDK calls,
a lookup inside a translated block), it is a bug and becomes an `InternalError`, never a
retryable error that would send the same bug round again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from turnout.errors import ConfigurationError, InfrastructureError, InternalError, TurnoutError
from turnout_e2b.options import BACKEND_ID

__all__ = ["SDK_EXCEPTION_TABLE", "VENDOR_PACKAGES", "map_exception", "translate_errors"]

#: Top-level packages of the E2B SDK and the transport under it (its dependencies that
#: move bytes or decode responses). A failure raised inside one of them is the vendor's.
VENDOR_PACKAGES = frozenset(
    {
        "e2b",
        "e2b_code_interpreter",
        "e2b_connect",
        "connectrpc",
        "pyqwest",
        "protobuf",
        "httpx",
        "httpcore",
        "h11",
        "h2",
        "hpack",
        "hyperframe",
        "anyio",
        "attr",
        "attrs",
        "dateutil",
    }
)
#: turnout's own packages: a failure raised inside them is a bug.
OWN_PACKAGES = frozenset({"turnout", "turnout_e2b"})

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


@functools.cache
def _raw_failures() -> tuple[tuple[type[BaseException], Factory], ...]:
    """Failures the SDK lets escape raw (measured, see docs/backends/e2b.md); the built-in
    classes among them only when the SDK or its transport raised them (`raised_by_vendor`).
    Built on first use: registering the backend must not import httpx (nor what it
    imports), only an execution that failed needs its classes."""
    import httpx

    return (
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


def _is_httpx_error(exc: BaseException) -> bool:
    """Whether `exc` is an httpx error (none can be while httpx was never imported)."""
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(exc, httpx.HTTPError)


def map_exception(exc: BaseException, *, started: bool) -> TurnoutError:
    """The turnout error for `exc`; the most specific SDK class in its MRO decides.

    Classes of the SDK and of httpx are the vendor's wherever they are raised; any other
    exception is judged by where it was raised (`raised_by_vendor`).
    """
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
    if _is_httpx_error(exc):
        return _factory_for(exc)(exc, started)
    if not raised_by_vendor(exc):
        internal = InternalError(
            f"internal error in the e2b backend (a bug in turnout, not an E2B failure; "
            f"not a reason to retry): {_describe(exc)}",
            backend=BACKEND_ID,
        )
        internal.__cause__ = exc
        return internal
    return _factory_for(exc)(exc, started)


def _factory_for(exc: BaseException) -> Factory:
    for raw_type, factory in _raw_failures():
        if isinstance(exc, raw_type):
            return factory
    return _infrastructure(False, "SDK failed unexpectedly")


def raised_by_vendor(exc: BaseException) -> bool:
    """Whether the SDK or its transport raised `exc`, judged by its traceback.

    Frames are read from where the exception was raised outwards. Standard library frames
    (json, ssl, asyncio's sockets) and other libraries' are passed over: what they raise
    belongs to whoever called them. The first frame in a `VENDOR_PACKAGES` module makes it
    the vendor's; the first in turnout's own code, or none at all (an exception that was
    never raised), makes it a bug.
    """
    frames = list(traceback.walk_tb(exc.__traceback__))
    for frame, _ in reversed(frames):
        package = str(frame.f_globals.get("__name__", "")).partition(".")[0]
        if package in VENDOR_PACKAGES:
            return True
        if package in OWN_PACKAGES:
            return False
    return False


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
