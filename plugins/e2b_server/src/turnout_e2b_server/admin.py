"""The admin API under /_turnout/admin: settings, scripted faults, counters, reset.

Why: tests drive a running server (often in another process) into the situations the
plugin must survive, then check what happened. Every admin call needs the X-API-KEY, like
the control plane. Shapes (all JSON):

    GET  /_turnout/admin/config           -> the ServerConfig as an object
    POST /_turnout/admin/config  {partial} -> the updated config (400 if invalid)
    GET  /_turnout/admin/faults           -> {"faults": [pending faults]}
    POST /_turnout/admin/faults  [fault, ...] or {"faults": [...]} -> {"faults": [...]}
    DELETE /_turnout/admin/faults         -> {"faults": []}
    GET  /_turnout/admin/stats            -> {"live_sandboxes", "sandboxes": [...],
                                              "counters": {...}, "pool": {...}, "root",
                                              "isolation": {"enabled", "detail"}}
    POST /_turnout/admin/reset  {"kill_sandboxes"?: bool} -> the stats after the reset
         (faults cleared, counters zeroed, config back to its start-up values)

See faults.py for the fault kinds and config.py for the settings.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from turnout_e2b_server.errors import ApiError
from turnout_e2b_server.faults import Fault
from turnout_e2b_server.routing import json_body, require_api_key
from turnout_e2b_server.state import ServerState

__all__ = ["ADMIN_PREFIX", "admin_routes", "stats_json"]

ADMIN_PREFIX = "/_turnout/admin"


def stats_json(state: ServerState) -> dict[str, Any]:
    """Live sandboxes (with their kernel pids), counters and the pool, for GET stats.

    A kernel pid is the process the server started for the kernel; with isolation that is
    its `unshare` wrapper, and every process of the kernel (detached ones included) is
    among that process's descendants on the host.
    """
    sandboxes = state.sandboxes.live()
    return {
        "live_sandboxes": len(sandboxes),
        "sandboxes": [
            {
                "sandboxID": s.sandbox_id,
                "templateID": s.template_id,
                "metadata": s.metadata,
                "endAt": s.end_at.isoformat(),
                "home": str(s.home),
                "kernel_pids": s.contexts.pids(),
            }
            for s in sandboxes
        ],
        "counters": state.stats.snapshot(),
        "pool": {
            "idle": state.pool.idle_counts(),
            "pids": state.pool.pids(),
            "unavailable": state.pool.unavailable(),
        },
        "root": str(state.root),
        "isolation": {
            "enabled": state.isolation is not None,
            "detail": "PID, mount, network and IPC namespaces per kernel; "
            "code runs as the sandbox's own unprivileged user"
            if state.isolation is not None
            else state.isolation_problem,
        },
    }


def admin_routes(state: ServerState) -> list[Route]:
    """The admin routes of one server."""

    async def get_config(request: Request) -> Response:
        require_api_key(request, state.config)
        return JSONResponse(state.config.to_dict())

    async def set_config(request: Request) -> Response:
        require_api_key(request, state.config)
        changes = await json_body(request)
        try:
            state.config.update(changes)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc)) from None
        if "pool_sizes" in changes:
            state.pool.resize(state.config.pool_sizes)
        return JSONResponse(state.config.to_dict())

    async def get_faults(request: Request) -> Response:
        require_api_key(request, state.config)
        return JSONResponse({"faults": state.faults.pending()})

    async def add_faults(request: Request) -> Response:
        require_api_key(request, state.config)
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "request body is not valid JSON") from None
        items = body.get("faults") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise ApiError(400, 'send a list of faults or {"faults": [...]}')
        try:
            faults = [Fault.from_json(item) for item in items]
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc)) from None
        state.faults.add(faults)
        return JSONResponse({"faults": state.faults.pending()})

    async def clear_faults(request: Request) -> Response:
        require_api_key(request, state.config)
        state.faults.clear()
        return JSONResponse({"faults": []})

    async def get_stats(request: Request) -> Response:
        require_api_key(request, state.config)
        return JSONResponse(stats_json(state))

    async def reset(request: Request) -> Response:
        require_api_key(request, state.config)
        body = await json_body(request, required=False)
        if body.get("kill_sandboxes"):
            await state.sandboxes.kill_all()
        state.faults.clear()
        initial = copy.deepcopy(state.initial_config)
        state.config.update(initial.to_dict())
        state.pool.resize(state.config.pool_sizes)
        state.stats.reset()
        return JSONResponse(stats_json(state))

    return [
        Route(f"{ADMIN_PREFIX}/config", get_config, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/config", set_config, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/faults", get_faults, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/faults", add_faults, methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/faults", clear_faults, methods=["DELETE"]),
        Route(f"{ADMIN_PREFIX}/stats", get_stats, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/reset", reset, methods=["POST"]),
    ]
