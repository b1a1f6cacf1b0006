"""Running the app under uvicorn, with the drain a replica owes its callers on SIGTERM.

uvicorn's own SIGTERM handling closes the listening socket at once and re-raises the
signal after serving, so an orchestrator would see connections refused and a death by
signal. The drain here is what docs/service.md promises instead:

1. readiness turns false and new executions are answered 503 (`ServiceDrainingError`,
   with Retry-After), while the socket stays open for the load balancer's last requests;
2. executions in flight get `grace_s` seconds to finish (`Client.aclose`); those still
   running are interrupted, answered 503 with a retryable `ExecutionInterruptedError`,
   and their sandboxes and processes killed;
3. then uvicorn stops: the listener closes, open responses are finished, exit status 0.

A second SIGTERM or SIGINT during the drain skips the grace period (step 2 starts at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Generator

import uvicorn

from turnout.client import Client
from turnout.logging import get_logger
from turnout.shutdown import ShutdownReport
from turnout_serve.app import create_app, service_state
from turnout_serve.settings import ServiceSettings

__all__ = ["SHUTDOWN_TIMEOUT_S", "serve"]

log = get_logger("turnout.serve")
SHUTDOWN_TIMEOUT_S = 10
"""How long uvicorn waits for responses still being written after the drain."""


class _DrainingServer(uvicorn.Server):
    """A uvicorn server whose signals start `drain` instead of stopping it at once."""

    def __init__(self, config: uvicorn.Config, client: Client, settings: ServiceSettings) -> None:
        super().__init__(config)
        self.client = client
        self.settings = settings
        self.drain_task: asyncio.Task[None] | None = None
        self.hurry_task: asyncio.Task[ShutdownReport] | None = None
        self.signals = 0

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()
        handled = (signal.SIGTERM, signal.SIGINT)
        for received in handled:
            loop.add_signal_handler(received, self.on_signal, received)
        try:
            yield
        finally:
            for received in handled:
                loop.remove_signal_handler(received)

    def on_signal(self, received: signal.Signals) -> None:
        self.signals += 1
        if self.drain_task is None:
            log.warning("service_draining", signal=received.name, grace_s=self.settings.grace_s)
            self.drain_task = asyncio.ensure_future(self.drain(self.settings.grace_s))
        else:  # asked again: interrupt what is still running now
            self.hurry_task = asyncio.ensure_future(self.client.aclose(0))

    async def drain(self, grace_s: float) -> None:
        service_state(self.config.app).draining = True  # type: ignore[arg-type]
        report = await self.client.aclose(grace_s)
        log.info("service_drained", report=str(report))
        self.should_exit = True


async def serve(settings: ServiceSettings, client: Client) -> None:
    """Serve `client` until SIGTERM or SIGINT has drained it; print the URL on stdout once
    the socket listens (port 0 picks a free port, and the URL names it)."""
    app = create_app(client, settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # turnout's logging set-up applies; uvicorn adds no handler
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_TIMEOUT_S,
        lifespan="on",
    )
    server = _DrainingServer(config, client, settings)
    announcer = asyncio.ensure_future(_announce(server))
    try:
        await server.serve()
    finally:
        announcer.cancel()
        await client.aclose(0)  # the server stopped without a drain: nothing may survive
    if not server.started:
        raise SystemExit(1)


async def _announce(server: uvicorn.Server) -> None:
    while not server.started:  # noqa: ASYNC110 - uvicorn has no start-up event to wait on
        await asyncio.sleep(0.02)
    socket = server.servers[0].sockets[0]
    host, port = socket.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    sys.stdout.write(f"http://{shown}:{port}\n")
    sys.stdout.flush()
