"""Errors answered the E2B way: a status code and a JSON body `{"code": int, "message": str}`.

Why one shape everywhere: the SDK reads `message` from the body to build its exception
text, and maps the status code to the exception class (401 -> AuthenticationException,
404 -> NotFound/SandboxNotFound, 429 -> RateLimitException, 502 on a sandbox route ->
"sandbox was killed", 503 -> ServiceBusyException). Route code raises `ApiError`; the
handlers installed by the app turn it, and any unexpected exception, into that body.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = [
    "ApiError",
    "StreamAbortedError",
    "error_response",
    "exception_handlers",
    "sandbox_not_found",
]

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Answer the current request with `status` and an E2B-style JSON error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class StreamAbortedError(Exception):
    """Raised out of a streaming response to make the server close the connection.

    The client sees the stream end without `end_of_execution` (an incomplete chunked
    body), as when E2B's sandbox dies or the network drops mid-execution.
    """


def error_response(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> JSONResponse:
    """The JSON error response: `{"code": status, "message": message, **extra}`."""
    body: dict[str, object] = {"code": status, "message": message, **(extra or {})}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def sandbox_not_found(sandbox_id: str) -> ApiError:
    """What E2B's edge proxy answers on a sandbox port once the sandbox is gone.

    The SDK recognises "was not found" in a 502 body as "the sandbox was killed".
    """
    return ApiError(
        502,
        f"The sandbox {sandbox_id} was not found",
        extra={"sandboxId": sandbox_id},
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, headers=exc.headers, extra=exc.extra)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StreamAbortedError):  # deliberate; the response has started anyway
        return error_response(502, str(exc))
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, f"internal server error: {type(exc).__name__}: {exc}")


exception_handlers = {
    ApiError: _api_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
