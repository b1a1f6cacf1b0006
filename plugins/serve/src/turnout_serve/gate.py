"""The service's front door: what a request must pass before the app reads a byte of it.

An ASGI middleware, in front of FastAPI, because each check must happen before the body is
parsed (FastAPI reads the body before any dependency runs):

1. the bearer token, for every `/v1/` route (401; compared in constant time);
2. for `POST /v1/executions`: not draining (503), a free execution slot (429), both with
   `Retry-After`, and a JSON body (415); the slot is held until the response is sent;
3. the body, read here with its cap (413 as soon as the cap is passed, or at once from
   `Content-Length`) and its deadline (408 when it arrives too slowly), then handed to the
   app in one piece. After the body, the app's `receive` is the connection's, so the
   execution sees the client's disconnect.

Probes and metrics (`/healthz`, `/readyz`, `/metrics`) need no token: orchestrators and
scrapers do not carry one.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from turnout.errors import TurnoutError
from turnout_serve.errors import (
    AuthenticationError,
    OverloadedError,
    RequestRejectedError,
    ServiceDrainingError,
    error_body,
    retry_after_header,
    status_for,
)
from turnout_serve.metrics import ServiceMetrics
from turnout_serve.responses import TurnoutJSONResponse

__all__ = ["EXECUTIONS_PATH", "Gate", "ServiceState"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

EXECUTIONS_PATH = "/v1/executions"


@dataclass
class ServiceState:
    """What the gate and the routes share: tokens, limits, and whether the service drains."""

    tokens: frozenset[str]
    max_body_bytes: int
    max_concurrency: int
    body_timeout_s: float
    metrics: ServiceMetrics
    draining: bool = False
    executing: int = 0
    _encoded_tokens: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        self._encoded_tokens = tuple(token.encode() for token in sorted(self.tokens))

    def authorized(self, header: bytes | None) -> bool:
        """Whether an `Authorization` header carries an accepted bearer token; every token
        is compared, in constant time, whatever the outcome."""
        if not self._encoded_tokens:
            return True
        scheme, _, presented = (header or b"").partition(b" ")
        accepted = False
        for token in self._encoded_tokens:
            accepted |= hmac.compare_digest(presented.strip(), token)
        return accepted and scheme.lower() == b"bearer"


class Gate:
    """The ASGI middleware of the module docstring."""

    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/v1/") and not self.state.authorized(_header(scope, b"authorization")):
            await self._refuse(
                AuthenticationError(
                    "a bearer token is required: send `Authorization: Bearer <token>` with "
                    "one of the service's tokens"
                ),
                "unauthorized",
                scope,
                receive,
                send,
                {"WWW-Authenticate": "Bearer"},
            )
            return
        if path != EXECUTIONS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.state.draining:
            error: TurnoutError = ServiceDrainingError(
                "this replica is shutting down and takes no new executions; retry on another"
            )
            await self._refuse(error, "draining", scope, receive, send)
            return
        if self.state.executing >= self.state.max_concurrency:
            error = OverloadedError(
                f"all {self.state.max_concurrency} execution slots of this replica are "
                "taken; retry after the Retry-After seconds"
            )
            await self._refuse(error, "overloaded", scope, receive, send)
            return
        if not _is_json(_header(scope, b"content-type")):
            error = RequestRejectedError(
                "Content-Type",
                "must be application/json",
                status=415,
                allowed="send the header `Content-Type: application/json`",
            )
            await self._refuse(error, "not_json", scope, receive, send)
            return
        self.state.executing += 1
        self.state.metrics.in_flight.inc()
        try:
            await self._with_body(scope, receive, send)
        finally:
            self.state.executing -= 1
            self.state.metrics.in_flight.dec()

    async def _with_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await self._read_body(scope, receive)
        except RequestRejectedError as error:
            reason = "too_large" if error.status == 413 else "slow_body"
            await self._refuse(error, reason, scope, receive, send, {"Connection": "close"})
            return
        except _DisconnectedError:
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        cap = self.state.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise _too_large(cap)
        deadline = time.monotonic() + self.state.body_timeout_s
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            try:
                async with asyncio.timeout(max(remaining, 0)):
                    message = await receive()
            except TimeoutError:
                raise RequestRejectedError(
                    "body",
                    f"did not arrive within {self.state.body_timeout_s:g} s",
                    status=408,
                    allowed="send the whole request body at once",
                ) from None
            if message["type"] == "http.disconnect":
                raise _DisconnectedError
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise _too_large(cap)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(
        self,
        error: TurnoutError,
        reason: str,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.state.metrics.rejected.labels(reason=reason).inc()
        response = TurnoutJSONResponse(
            error_body(error),
            status_code=status_for(error),
            headers={**retry_after_header(error), **(headers or {})},
        )
        await response(scope, receive, send)


class _DisconnectedError(Exception):
    """The client went away while sending its body: there is no one to answer."""


def _too_large(cap: int) -> RequestRejectedError:
    return RequestRejectedError(
        "body",
        f"is larger than this service's limit of {cap} bytes",
        status=413,
        allowed="a smaller context, or a larger --max-body-bytes on the service",
    )


def _is_json(content_type: bytes | None) -> bool:
    media_type = (content_type or b"").split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or media_type.endswith(b"+json")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value)
    return None
