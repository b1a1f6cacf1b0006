"""Run the server: in a background thread, as an asyncio task, or from the CLI.

Why uvicorn is wrapped: at stop, sandboxes must die *before* uvicorn waits for open
connections, because a running /execute stream only ends when its sandbox does; and the
"ready" moment (socket bound, lifespan started) must be observable, so the CLI can print
its URL and a test can start using the server.

    with LocalE2BServer(ServerConfig(create_delay_ms=150)) as server:
        sandbox = await AsyncSandbox.create(api_key="k", api_url=server.url,
                                            sandbox_url=server.url)

The socket is bound here (port 0 picks a free port), on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import uvicorn

from turnout_e2b_server.app import create_app
from turnout_e2b_server.config import ServerConfig
from turnout_e2b_server.errors import StreamAbortedError
from turnout_e2b_server.kernels.base import KernelFactory
from turnout_e2b_server.state import ServerState

__all__ = ["IsolationRequiredError", "LocalE2BServer"]

log = logging.getLogger(__name__)


class _DeliberateAbortFilter(logging.Filter):
    """Keep uvicorn from logging a deliberately cut stream as an application error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, StreamAbortedError)


class _Uvicorn(uvicorn.Server):
    """uvicorn.Server that reports readiness and kills sandboxes first at shutdown."""

    def __init__(
        self, config: uvicorn.Config, state: ServerState, on_ready: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self._state = state
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self._state.sandboxes.kill_all()
        await super().shutdown(sockets=sockets)


class IsolationRequiredError(RuntimeError):
    """The server was told to run only with confined kernels, and cannot confine them."""


class LocalE2BServer:
    """A local E2B-compatible server; `.url` is its base URL for `api_url`/`sandbox_url`."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        root_parent: Path | None = None,
        kernel_factories: Mapping[str, KernelFactory] | None = None,
        isolate: bool = True,
        require_isolation: bool = False,
    ) -> None:
        self.config = config or ServerConfig()
        self.config.validate()
        self.host = host
        self._sock = _bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        self._root_parent = root_parent
        self._kernel_factories = kernel_factories
        self._isolate = isolate
        self._require_isolation = require_isolation
        self.state: ServerState | None = None
        self._server: _Uvicorn | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def serve(
        self, on_ready: Callable[[], None] | None = None, *, exit_with_parent: bool = False
    ) -> None:
        """Serve in the running event loop until `request_stop()` (or a signal, in main)."""
        self.state = ServerState(
            self.config,
            root_parent=self._root_parent,
            kernel_factories=self._kernel_factories,
            isolate=self._isolate,
        )
        if self._require_isolation and self.state.isolation is None:
            await self.state.stop()
            self._sock.close()
            raise IsolationRequiredError(
                f"kernels cannot be confined here: {self.state.isolation_problem}"
            )
        _install_log_filter()
        uv_config = uvicorn.Config(
            create_app(self.state),
            log_config=None,
            access_log=False,
            lifespan="on",
            http="h11",
            ws="none",
            loop="asyncio",
            timeout_graceful_shutdown=5,
            # Longer than uvicorn's 5 s default: the SDK pools connections for minutes, and
            # a server closing an idle one as the client reuses it fails that request.
            timeout_keep_alive=120,
        )

        def ready() -> None:
            self._ready.set()
            if on_ready is not None:
                on_ready()

        self._server = _Uvicorn(uv_config, self.state, ready)
        watcher = asyncio.create_task(self._watch_parent()) if exit_with_parent else None
        try:
            await self._server.serve(sockets=[self._sock])
        finally:
            if watcher is not None:
                watcher.cancel()
            await self.state.stop()  # normally done by the lifespan already
            self._sock.close()

    def request_stop(self) -> None:
        """Ask the server to stop (thread-safe); `serve()` returns once it has."""
        if self._server is not None:
            self._server.should_exit = True

    def start(self, timeout_s: float = 60.0) -> Self:
        """Serve in a background thread; return once the server accepts requests."""
        if self._thread is not None:
            raise RuntimeError("the server has already been started")

        def run() -> None:
            try:
                asyncio.run(self.serve())
            except BaseException as exc:
                self._failure = exc
                self._ready.set()

        self._thread = threading.Thread(target=run, name="local-e2b-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"the local E2B server did not start: {self._failure!r}")
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Kill every sandbox and stop serving (blocks until done); safe to call twice."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("the local E2B server did not stop within %.0f s", timeout_s)
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _watch_parent(self) -> None:
        parent = os.getppid()
        while True:  # polling: no event announces that a parent has died
            await asyncio.sleep(1.0)
            if os.getppid() != parent:
                break
        log.warning("parent process %d is gone: stopping", parent)
        self.request_stop()


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DeliberateAbortFilter) for f in logger.filters):
        logger.addFilter(_DeliberateAbortFilter())


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose `proto` says
    # TCP, and accepted sockets inherit it from this one. Without it, each /execute stream
    # waited ~40 ms for the client's delayed ACK (Nagle) before its first line went out.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
