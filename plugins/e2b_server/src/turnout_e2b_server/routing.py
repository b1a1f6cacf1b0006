"""Who may call what, and which sandbox a request is for.

Why: one port serves three things that are separate hosts at E2B. Control-plane (and
admin) calls must carry a non-empty X-API-KEY, as api.e2b.app requires (the server's key
when it has one). Sandbox calls (Jupyter on port 49999, envd on 49983) carry the
`E2b-Sandbox-Id` and `E2b-Sandbox-Port` headers the SDK adds when `sandbox_url` is set;
they are routed by those, and answered like E2B's edge proxy answers when the sandbox is
gone (502 "... was not found").

Every sandbox call must also prove it comes from whoever created the sandbox: create
answers two random tokens per sandbox, which the unmodified SDK sends back. envd calls
carry `envdAccessToken` as X-Access-Token (as E2B's envd requires for a secured sandbox);
Jupyter calls carry `trafficAccessToken` as E2B-Traffic-Access-Token (as E2B's edge proxy
requires for a sandbox closed to public traffic; the SDK sends it on /execute and every
/contexts call, and X-Access-Token on /execute only). Knowing a sandbox's id is not enough
to run code in it, read its files or see that it exists.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.requests import Request

from turnout_e2b_server.config import ServerConfig
from turnout_e2b_server.errors import ApiError, sandbox_not_found
from turnout_e2b_server.sandboxes import Sandbox, SandboxRegistry

__all__ = [
    "ENVD_PORT",
    "JUPYTER_PORT",
    "check_envd_token",
    "check_traffic_token",
    "json_body",
    "require_api_key",
    "routed_sandbox",
    "string_map",
]

JUPYTER_PORT = 49999
ENVD_PORT = 49983


def require_api_key(request: Request, config: ServerConfig) -> None:
    """ApiError(401) unless X-API-KEY is non-empty (and equal to `config.api_key` if set)."""
    key = request.headers.get("x-api-key", "")
    if not key:
        raise ApiError(401, "Invalid API key, it must be provided in the X-API-KEY header")
    if config.api_key is not None and not _same(key, config.api_key):
        raise ApiError(401, "Invalid API key")


def routed_sandbox(request: Request, registry: SandboxRegistry, port: int) -> Sandbox:
    """The live sandbox a sandbox-port request is addressed to, its token checked.

    400 without the routing header, 502 "was not found" for a dead or unknown sandbox,
    502 "port is not open" if the request names a port this route does not serve, 401
    without the sandbox's token for that port.
    """
    sandbox_id = request.headers.get("e2b-sandbox-id")
    if not sandbox_id:
        raise ApiError(400, "missing E2b-Sandbox-Id header: point sandbox_url at this server")
    sandbox = registry.get(sandbox_id)
    if sandbox is None:
        raise sandbox_not_found(sandbox_id)
    asked = request.headers.get("e2b-sandbox-port")
    if asked is not None and asked != str(port):
        raise ApiError(
            502,
            f"The sandbox {sandbox_id} is running but port {asked} is not open",
            extra={"sandboxId": sandbox_id, "port": asked},
        )
    if port == JUPYTER_PORT:
        check_traffic_token(request, sandbox)
    else:
        check_envd_token(request, sandbox)
    return sandbox


def check_envd_token(request: Request, sandbox: Sandbox) -> None:
    """ApiError(401) unless the request carries the sandbox's envd token (X-Access-Token)."""
    if not _same(request.headers.get("x-access-token", ""), sandbox.access_token):
        raise ApiError(401, "unauthorized access, please provide a valid access token")


def check_traffic_token(request: Request, sandbox: Sandbox) -> None:
    """ApiError(401) unless the request carries the sandbox's traffic token."""
    if not _same(request.headers.get("e2b-traffic-access-token", ""), sandbox.traffic_token):
        raise ApiError(
            401,
            "unauthorized access to the sandbox's port, please provide a valid traffic "
            "access token (E2B-Traffic-Access-Token)",
        )


def _same(given: str, expected: str) -> bool:
    """Whether a secret matches, in time that does not depend on where they differ."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


async def json_body(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object body; ApiError(400) if it is not one."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ApiError(400, "request body must be a JSON object")
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def string_map(value: object, name: str) -> dict[str, str]:
    """A `{str: str}` field of a request body (None counts as empty); ApiError(400) if not."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ApiError(400, f"{name} must be an object of strings")
    return dict(value)
