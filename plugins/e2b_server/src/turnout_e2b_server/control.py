"""The control plane (api.e2b.app): create, connect, info, set_timeout, list and kill.

Why these answers: they are what the unmodified SDK accepts (see e2b-facts.md). Create
must answer 201 with templateID, sandboxID, clientID and envdVersion; kill answers 204,
or 404 with a JSON body when the sandbox is already gone (the SDK returns False); list
pages with the `x-next-token` header. Latency, the concurrency limit and scripted create
and kill faults are applied here. Create answers once the sandbox's kernels are running,
as E2B's are when its VM has booted.

List parameters, as the SDK sends them: `metadata` is a URL-encoded query string of
URL-encoded keys and values (`k1=v1&k2=v2`, all must match), `state` a comma-separated
list (local sandboxes are always "running"), `limit` the page size (default 100),
`nextToken` the cursor from the previous page, `order` "asc" (default) or "desc" by start.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from turnout_e2b_server.errors import ApiError
from turnout_e2b_server.routing import json_body, require_api_key, string_map
from turnout_e2b_server.sandboxes import Sandbox
from turnout_e2b_server.state import ServerState

__all__ = ["control_routes"]

DEFAULT_PAGE = 100
MAX_PAGE = 1000


def control_routes(state: ServerState) -> list[Route]:
    """The control-plane routes of one server."""

    def timeout_of(value: object, default: int | None) -> int | None:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ApiError(400, "timeout must be a positive integer (seconds)")
        if value > state.config.max_timeout_s:
            raise ApiError(
                400, f"timeout cannot be greater than {state.config.max_timeout_s} seconds"
            )
        return value

    def live(request: Request) -> Sandbox:
        sandbox_id = request.path_params["sandbox_id"]
        sandbox = state.sandboxes.get(sandbox_id)
        if sandbox is None:
            raise ApiError(404, f"sandbox {sandbox_id!r} not found")
        return sandbox

    async def create(request: Request) -> Response:
        require_api_key(request, state.config)
        body = await json_body(request)
        template_id = body.get("templateID")
        if not isinstance(template_id, str) or not template_id:
            raise ApiError(400, "templateID is required")
        metadata = string_map(body.get("metadata"), "metadata")
        env_vars = string_map(body.get("envVars"), "envVars")
        timeout_s = timeout_of(body.get("timeout"), state.config.default_timeout_s)
        assert timeout_s is not None
        state.stats.bump("create_requests")
        fault = state.faults.take("create_error")
        if fault is not None:
            state.stats.bump("faults_fired")
            state.stats.bump("creates_failed_fault")
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            if fault.should_retry is not None:
                headers["Should-Retry"] = "true" if fault.should_retry else "false"
            raise ApiError(
                fault.status,
                fault.message or f"injected fault: create answers {fault.status}",
                headers=headers,
            )
        state.sandboxes.reserve()
        try:
            sandbox = await state.sandboxes.create(
                template_id,
                metadata,
                env_vars,
                timeout_s,
                delay_s=state.config.create_delay_ms / 1000,
            )
        finally:
            state.sandboxes.release()
        return JSONResponse(sandbox.created_json(state.config.envd_version), status_code=201)

    async def connect(request: Request) -> Response:
        require_api_key(request, state.config)
        body = await json_body(request, required=False)
        sandbox = live(request)
        timeout_s = timeout_of(body.get("timeout"), None)
        if timeout_s is not None:
            # Like E2B: connecting only ever extends a running sandbox's lifetime.
            remaining = (sandbox.end_at - datetime.now(UTC)).total_seconds()
            if timeout_s > remaining:
                state.sandboxes.set_timeout(sandbox, timeout_s)
        return JSONResponse(sandbox.created_json(state.config.envd_version), status_code=200)

    async def info(request: Request) -> Response:
        require_api_key(request, state.config)
        return JSONResponse(live(request).detail_json(state.config.envd_version))

    async def set_timeout(request: Request) -> Response:
        require_api_key(request, state.config)
        body = await json_body(request)
        sandbox = live(request)
        timeout_s = timeout_of(body.get("timeout"), None)
        if timeout_s is None:
            raise ApiError(400, "timeout is required")
        state.sandboxes.set_timeout(sandbox, timeout_s)
        return Response(status_code=204)

    async def kill(request: Request) -> Response:
        require_api_key(request, state.config)
        sandbox_id = request.path_params["sandbox_id"]
        delay_ms = state.config.kill_delay_ms
        fault = state.faults.take("slow_kill")
        if fault is not None:
            state.stats.bump("faults_fired")
            delay_ms += fault.delay_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if not await state.sandboxes.kill(sandbox_id):
            state.stats.bump("kills_not_found")
            raise ApiError(404, f"sandbox {sandbox_id!r} not found")
        return Response(status_code=204)

    async def list_sandboxes(request: Request) -> Response:
        require_api_key(request, state.config)
        query = request.query_params
        wanted = _metadata_filter(query.get("metadata"))
        states = [s for s in query.get("state", "").split(",") if s]
        if any(s not in ("running", "paused") for s in states):
            raise ApiError(400, "state must be a comma-separated list of running, paused")
        limit = _positive_int(query.get("limit"), "limit", DEFAULT_PAGE)
        if limit > MAX_PAGE:
            raise ApiError(400, f"limit cannot be greater than {MAX_PAGE}")
        order = query.get("order", "asc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "order must be asc or desc")
        after = _cursor(query.get("nextToken"))
        template = query.get("template")

        sandboxes = state.sandboxes.live()
        if order == "desc":
            sandboxes.reverse()
        matching = [
            s
            for s in sandboxes
            if all(s.metadata.get(k) == v for k, v in wanted.items())
            and (not states or "running" in states)
            and (template is None or s.template_id == template)
            and (after is None or (s.seq > after if order == "asc" else s.seq < after))
        ]
        page = matching[:limit]
        headers = {}
        if len(matching) > limit:
            headers["x-next-token"] = str(page[-1].seq)
        version = state.config.envd_version
        return JSONResponse([s.listed_json(version) for s in page], headers=headers)

    return [
        Route("/v2/sandboxes", create, methods=["POST"]),
        Route("/sandboxes", create, methods=["POST"]),
        Route("/v2/sandboxes", list_sandboxes, methods=["GET"]),
        Route("/sandboxes/{sandbox_id}", info, methods=["GET"]),
        Route("/sandboxes/{sandbox_id}", kill, methods=["DELETE"]),
        Route("/sandboxes/{sandbox_id}/timeout", set_timeout, methods=["POST"]),
        Route("/v2/sandboxes/{sandbox_id}/connect", connect, methods=["POST"]),
        Route("/sandboxes/{sandbox_id}/connect", connect, methods=["POST"]),
    ]


def _metadata_filter(raw: str | None) -> dict[str, str]:
    """Decode the SDK's metadata filter: urlencode() of URL-quoted keys and values."""
    if not raw:
        return {}
    try:
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ApiError(400, "metadata must be a URL-encoded query string") from None
    return {urllib.parse.unquote(k): urllib.parse.unquote(v) for k, v in pairs}


def _positive_int(raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    if not raw.isdecimal() or int(raw) < 1:
        raise ApiError(400, f"{name} must be a positive integer")
    return int(raw)


def _cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.isdecimal():
        raise ApiError(400, "invalid nextToken")
    return int(raw)
