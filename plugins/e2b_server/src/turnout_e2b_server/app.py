"""The Starlette application: every route of the local E2B-compatible server on one port.

Why one port: with `api_url` and `sandbox_url` both pointing at it, the SDK's control-plane,
Jupyter and envd paths do not collide, and sandbox calls say which sandbox they are for in
their headers (see routing.py). The lifespan starts the kernel pool and, at shutdown,
kills every sandbox and removes the server's temp directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from turnout_e2b_server.admin import admin_routes
from turnout_e2b_server.control import control_routes
from turnout_e2b_server.errors import exception_handlers
from turnout_e2b_server.files import envd_routes
from turnout_e2b_server.jupyter import jupyter_routes
from turnout_e2b_server.state import ServerState

__all__ = ["create_app"]


def create_app(state: ServerState) -> Starlette:
    """The ASGI app serving `state`; its lifespan owns the state's start and stop."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        try:
            yield
        finally:
            await state.stop()

    routes = [
        *control_routes(state),
        *jupyter_routes(state),
        *envd_routes(state),
        *admin_routes(state),
    ]
    return Starlette(routes=routes, exception_handlers=exception_handlers, lifespan=lifespan)
