"""The code-interpreter side of a sandbox ("port 49999"): /execute and /contexts.

Why these answers: they mirror E2B's code-interpreter server (template/server/main.py).
`/execute` takes `{"code", "context_id", "language", "env_vars"}`; giving both a context
and a language is a 400, an unknown context a 404 (the SDK raises NotFoundException), a
language without a kernel here a 500. Cells of one context run one at a time, in order.
Contexts: POST /contexts -> `{id, language, cwd}`, GET /contexts, DELETE
/contexts/{id}, POST /contexts/{id}/restart.

Execution faults (`drop_stream`, `kill_mid_run`) are taken from the queue here, when the
execution request arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from turnout_e2b_server.contexts import Context
from turnout_e2b_server.errors import ApiError, sandbox_not_found
from turnout_e2b_server.kernels.base import EventSink
from turnout_e2b_server.pool import KernelUnavailableError
from turnout_e2b_server.routing import JUPYTER_PORT, json_body, routed_sandbox, string_map
from turnout_e2b_server.sandboxes import Sandbox
from turnout_e2b_server.state import ServerState
from turnout_e2b_server.streaming import ExecuteStream

__all__ = ["jupyter_routes"]


def jupyter_routes(state: ServerState) -> list[Route]:
    """The /execute and /contexts routes of one server."""

    def sandbox_of(request: Request) -> Sandbox:
        return routed_sandbox(request, state.sandboxes, JUPYTER_PORT)

    def context_of(sandbox: Sandbox, context_id: str) -> Context:
        context = sandbox.contexts.get(context_id)
        if context is None:
            raise ApiError(404, f"Context {context_id} not found")
        return context

    async def execute(request: Request) -> Response:
        sandbox = sandbox_of(request)
        body = await json_body(request)
        code = body.get("code")
        if not isinstance(code, str):
            raise ApiError(422, "code must be a string")
        context_id, language = body.get("context_id"), body.get("language")
        if context_id is not None and not isinstance(context_id, str):
            raise ApiError(422, "context_id must be a string or null")
        if language is not None and not isinstance(language, str):
            raise ApiError(422, "language must be a string or null")
        env_vars = string_map(body.get("env_vars"), "env_vars")
        if context_id and language:
            raise ApiError(400, "Only one of context_id or language can be provided")
        if context_id:
            context = context_of(sandbox, context_id)
        else:
            try:
                context = await sandbox.contexts.default(language)
            except KernelUnavailableError as exc:
                raise _kernel_error(sandbox, exc) from None

        kill = state.faults.take("kill_mid_run", sandbox.sandbox_id)
        drop = state.faults.take("drop_stream", sandbox.sandbox_id)

        async def run(emit: EventSink, mark_started: Callable[[], None]) -> None:
            async with context.lock:
                kernel = await sandbox.contexts.ensure_kernel(context)
                context.execution_count += 1
                await emit(
                    {"type": "number_of_executions", "execution_count": context.execution_count}
                )
                state.stats.bump("executions")
                if kill is not None:
                    state.stats.bump("faults_fired")
                    delay_s = (kill.after_ms or 0) / 1000
                    _later(delay_s, lambda: state.sandboxes.kill_later(sandbox.sandbox_id, "fault"))
                mark_started()
                await kernel.execute(
                    code, emit, env_vars=env_vars or None, language=language or context.language
                )

        async def interrupt() -> None:
            if context.kernel is not None:
                await context.kernel.interrupt()

        return ExecuteStream(
            run=run,
            interrupt=interrupt,
            sandbox_dead=sandbox.dead,
            keepalive_s=state.config.keepalive_s,
            stats=state.stats,
            drop_after_events=drop.after_events if drop else None,
            drop_after_ms=drop.after_ms if drop else None,
        )

    async def create_context(request: Request) -> Response:
        sandbox = sandbox_of(request)
        body = await json_body(request, required=False)
        language, cwd = body.get("language"), body.get("cwd")
        if language is not None and not isinstance(language, str):
            raise ApiError(422, "language must be a string")
        if cwd is not None and not isinstance(cwd, str):
            raise ApiError(422, "cwd must be a string")
        try:
            context = await sandbox.contexts.create(language, cwd)
        except KernelUnavailableError as exc:
            raise _kernel_error(sandbox, exc) from None
        return JSONResponse(context.to_json())

    async def list_contexts(request: Request) -> Response:
        sandbox = sandbox_of(request)
        return JSONResponse([context.to_json() for context in sandbox.contexts.all()])

    async def remove_context(request: Request) -> Response:
        sandbox = sandbox_of(request)
        context = context_of(sandbox, request.path_params["context_id"])
        await sandbox.contexts.remove(context)
        return JSONResponse(None)

    async def restart_context(request: Request) -> Response:
        sandbox = sandbox_of(request)
        context = context_of(sandbox, request.path_params["context_id"])
        try:
            await sandbox.contexts.restart(context)
        except KernelUnavailableError as exc:
            raise _kernel_error(sandbox, exc) from None
        return JSONResponse(None)

    return [
        Route("/execute", execute, methods=["POST"]),
        Route("/contexts", create_context, methods=["POST"]),
        Route("/contexts", list_contexts, methods=["GET"]),
        Route("/contexts/{context_id}", remove_context, methods=["DELETE"]),
        Route("/contexts/{context_id}/restart", restart_context, methods=["POST"]),
    ]


def _kernel_error(sandbox: Sandbox, exc: KernelUnavailableError) -> ApiError:
    """500 as E2B answers a context it cannot create; 502 if the sandbox died meanwhile."""
    if sandbox.dead.is_set():
        return sandbox_not_found(sandbox.sandbox_id)
    return ApiError(500, str(exc))


def _later(delay_s: float, action: Callable[[], None]) -> None:
    asyncio.get_running_loop().call_later(delay_s, action)
