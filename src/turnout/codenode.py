"""The public entry point workflow workers call: `execute_code_node(config, context)`.

It validates the stored config, selects the inputs from the workflow context, runs the node
through the process's engine for its environment, and wraps the envelope as
`{outputVariable: envelope}` when the node names one. Engines are kept per event loop and
environment, so flags are read and plugins discovered once per process, not per call.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from turnout.contract import select_inputs
from turnout.engine import Engine
from turnout.flags import current_environment
from turnout.limits import MAX_CONFIG_BYTES, MAX_CONTEXT_BYTES, check_json_value
from turnout.models import parse_config
from turnout.shutdown import ShutdownReport, shutdown

__all__ = [
    "default_engine",
    "execute_code_node",
    "execute_code_node_sync",
    "loop_engines",
    "shutdown_sync",
]

T = TypeVar("T")
_engines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Engine]] = (
    weakref.WeakKeyDictionary()
)


def default_engine(env: str | None = None) -> Engine:
    """The engine for `env` on the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    environment = current_environment(env)
    per_loop = _engines.setdefault(loop, {})
    engine = per_loop.get(environment)
    if engine is None:
        engine = per_loop[environment] = Engine(environment)
    return engine


def loop_engines(loop: asyncio.AbstractEventLoop) -> list[Engine]:
    """The engines `default_engine` made on `loop` (what `turnout.shutdown` stops)."""
    return list(_engines.get(loop, {}).values())


async def execute_code_node(
    config: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    backend: str | None = None,
    env: str | None = None,
    labels: Mapping[str, str] | None = None,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """Run one code node and return its result envelope (see docs/contract.md).

    `backend` overrides the environment's backend (for tests and comparisons); `env` picks
    the environment when the process serves more than one; `labels` (tenant, workflow) are
    attached to logs and sandboxes; `engine` runs it there instead of on the process's
    engine for `env` (the CLI's `--flags FILE`). Raises `ValidationError`,
    `CodeExecutionError`, `InfrastructureError` or `ConfigurationError`, each exactly once.
    The config and the context are checked against turnout.limits before anything else.
    """
    check_json_value(config, "config", max_bytes=MAX_CONFIG_BYTES)
    check_json_value(context, "context", max_bytes=MAX_CONTEXT_BYTES)
    node = parse_config(dict(config))
    inputs = select_inputs(context, node.input_variables)
    runner = engine if engine is not None else default_engine(env)
    envelope = await runner.run(node, inputs, backend=backend, labels=labels)
    if node.output_variable:
        return {node.output_variable: envelope}
    return envelope


class _LoopThread:
    """A private event loop on a daemon thread, so sync callers share warm backends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="turnout-sync", daemon=True).start()
                self._loop = loop
                atexit.register(self.close)
            return self._loop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._ensure())
        return future.result()

    def shutdown(self, grace_s: float) -> ShutdownReport | None:
        """Interrupt and close the engines of the private loop; None if it never ran."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return None

        async def stop() -> ShutdownReport:
            return await shutdown(loop_engines(loop), grace_s=grace_s)

        return asyncio.run_coroutine_threadsafe(stop(), loop).result()

    def close(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        engines = list(_engines.get(loop, {}).values())

        async def shutdown() -> None:
            for engine in engines:
                await engine.aclose()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)


_sync_loop = _LoopThread()


def execute_code_node_sync(
    config: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    backend: str | None = None,
    env: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The blocking twin of `execute_code_node`, for callers without an event loop."""
    return _sync_loop.run(
        execute_code_node(config, context, backend=backend, env=env, labels=labels)
    )


def shutdown_sync(grace_s: float = 0.0) -> ShutdownReport | None:
    """Graceful shutdown for callers of `execute_code_node_sync`; blocks until it is done.

    Safe to call from a `signal.signal` handler or any thread. Executions in flight get
    `grace_s` seconds, then end as retryable `InfrastructureError`s in their calling
    threads, their processes and sandboxes killed; later calls are refused (retryable).
    Returns None when no synchronous execution ever ran. See `turnout.shutdown`.
    """
    return _sync_loop.shutdown(grace_s)
