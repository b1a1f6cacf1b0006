"""`execute_code_node(config, context)`: the function API, a thin wrapper over a default
`turnout.Client` per event loop and environment.

It returns the envelope as a dict (`Envelope.to_dict()`: `{outputVariable: envelope}` when
the node names one), reads the flags from `$TURNOUT_FLAGS_FILE` or `./feature_flags.toml`,
and takes the rollout ids as `labels` (`tenant`, `workflow`, `execution`), the signature
existing callers use. New code holds a `Client` instead (docs/embedding.md): ids as
parameters, flags from code, a typed envelope, an explicit shutdown.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any

from turnout.client import Client
from turnout.engine import Engine
from turnout.flags import current_environment
from turnout.loop_thread import shared_loop_thread
from turnout.shutdown import ShutdownReport, set_default_engines, shutdown

__all__ = [
    "default_client",
    "default_engine",
    "execute_code_node",
    "execute_code_node_sync",
    "loop_engines",
    "shutdown_sync",
]

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Client]] = (
    weakref.WeakKeyDictionary()
)


def default_client(env: str | None = None) -> Client:
    """The client for `env` on the running event loop, created on first use."""
    loop = asyncio.get_running_loop()
    environment = current_environment(env)
    per_loop = _clients.setdefault(loop, {})
    client = per_loop.get(environment)
    if client is None:
        client = per_loop[environment] = Client(None, environment)
        thread = shared_loop_thread()
        if thread.started and thread.loop is loop:
            thread.adopt(client)  # closed when the shared loop thread closes at exit
    return client


def default_engine(env: str | None = None) -> Engine:
    """The engine of `default_client(env)` (tools that reach below the client)."""
    return default_client(env).engine


def loop_engines(loop: asyncio.AbstractEventLoop) -> list[Engine]:
    """The engines of the default clients made on `loop` (what `turnout.shutdown` stops)."""
    return [client.engine for client in _clients.get(loop, {}).values()]


set_default_engines(loop_engines)


async def execute_code_node(
    config: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    backend: str | None = None,
    env: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run one code node and return its result envelope (see docs/contract.md).

    `backend` overrides the environment's backend (for tests and comparisons); `env` picks
    the environment when the process serves more than one; `labels` (tenant, workflow,
    execution: the rollout ids) are attached to logs and sandboxes. Raises
    `ValidationError`, `CodeExecutionError`, `InfrastructureError` or
    `ConfigurationError`, each exactly once. The config and the context are checked
    against turnout.limits before anything else (`Client.execute`).
    """
    envelope = await default_client(env).execute(config, context, backend=backend, labels=labels)
    return envelope.to_dict()


def execute_code_node_sync(
    config: Mapping[str, Any],
    context: Mapping[str, Any],
    *,
    backend: str | None = None,
    env: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The blocking twin of `execute_code_node`, for callers without an event loop (it runs
    on turnout's shared loop thread)."""
    return shared_loop_thread().run(
        execute_code_node(config, context, backend=backend, env=env, labels=labels)
    )


def shutdown_sync(grace_s: float = 0.0) -> ShutdownReport | None:
    """Graceful shutdown for callers of `execute_code_node_sync`; blocks until it is done.

    Safe to call from a `signal.signal` handler or any thread. Executions in flight get
    `grace_s` seconds, then end as retryable `InfrastructureError`s in their calling
    threads, their processes and sandboxes killed; later calls are refused (retryable).
    Returns None when no synchronous execution ever ran. See `turnout.shutdown`.
    """
    thread = shared_loop_thread()
    if not thread.started:
        return None
    loop = thread.loop

    async def stop() -> ShutdownReport:
        return await shutdown(loop_engines(loop), grace_s=grace_s)

    return thread.run(stop())
