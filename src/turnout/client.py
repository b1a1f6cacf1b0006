"""`turnout.Client`: the one object a worker holds to run code nodes.

    async with turnout.Client(flags={...}, environment="production") as client:
        envelope = await client.execute(node, context, tenant_id="t-1", workflow_id="wf-9")

A client is made once per process (or per environment a process serves) and shared by
every execution: flags are validated and plugins discovered when it is made, and each
backend is built once, on first use, and kept warm. It is safe to call from many tasks at
once. It belongs to the event loop it first runs on (its backends hold that loop's
resources); synchronous code uses `Client.sync(...)`, which runs it on turnout's shared
loop thread.

Leaving `async with` (or `await client.aclose()`) drains it through `turnout.shutdown`:
new executions are refused, those in flight get `grace_s` seconds, the rest are cancelled
and answered with a retryable `ExecutionInterruptedError`, and every sandbox and process is
killed before it returns. See docs/embedding.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from turnout.engine import Engine, check_ids
from turnout.envelope import Envelope
from turnout.flag_source import FlagsArgument, flag_source
from turnout.flags import DEFAULT_CHECK_INTERVAL, Decision, FlagFile
from turnout.loop_thread import LoopThread, shared_loop_thread
from turnout.migration import DEFAULT_SHADOW_BUDGET
from turnout.models import CodeNodeConfig
from turnout.registry import BackendRegistry, default_registry
from turnout.shutdown import ShutdownReport, ShutdownSignals, shutdown

__all__ = ["DEFAULT_GRACE_S", "Client", "SyncClient"]

DEFAULT_GRACE_S = 30.0
"""How long closing a client waits for executions in flight before cancelling them."""


class Client:
    """Runs code nodes for one environment with one set of flags (module docstring)."""

    def __init__(
        self,
        flags: FlagsArgument = None,
        environment: str | None = None,
        *,
        registry: BackendRegistry | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        shadow_budget: int = DEFAULT_SHADOW_BUDGET,
        keep_warm: bool = True,
    ) -> None:
        """`flags`: a mapping, a path, a `FlagFile` or None (see `turnout.flag_source`);
        `environment`: the flags' environment (default `$TURNOUT_ENV`, else development);
        `grace_s`: how long closing waits for executions in flight; `keep_warm=False` for
        a client that runs one execution and goes (backends prepare nothing ahead).

        Raises `ConfigurationError` now for bad flags or an unknown environment.
        """
        registry = registry if registry is not None else default_registry()
        source = flag_source(
            flags,
            known_backends=registry.ids,
            option_models=registry.option_models,
            check_interval=check_interval,
        )
        self._engine = Engine(
            environment,
            flags=source,
            registry=registry,
            shadow_budget=shadow_budget,
            keep_warm=keep_warm,
        )
        self.grace_s = grace_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._report: ShutdownReport | None = None

    @classmethod
    def sync(
        cls, flags: FlagsArgument = None, environment: str | None = None, **options: Any
    ) -> SyncClient:
        """A blocking client for code without an event loop (same arguments as `Client`);
        it runs on turnout's shared loop thread."""
        return SyncClient(cls(flags, environment, **options))

    @property
    def environment(self) -> str:
        """The environment of the flags this client decides with."""
        return self._engine.environment

    @property
    def flags(self) -> FlagFile:
        """The flags in force (a file's latest good version, when it is reloaded)."""
        return self._engine.flags

    @property
    def engine(self) -> Engine:
        """The engine below the client, for tools that look at backends (advanced)."""
        return self._engine

    @property
    def closed(self) -> bool:
        """Whether the client was closed (it refuses new executions)."""
        return self._engine.closing

    async def execute(
        self,
        node: Mapping[str, Any] | CodeNodeConfig,
        context: Mapping[str, Any],
        *,
        tenant_id: str | None = None,
        workflow_id: str | None = None,
        execution_id: str | None = None,
        backend: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Envelope:
        """Run one code node with the workflow `context` and return its envelope.

        `node` is the stored config (docs/contract.md); the rollout ids decide its stage
        (`bucket_by` over the ids given; none given: the environment's `stage`) and label
        its event and sandbox. `backend` runs exactly there instead of where the flags
        say; `labels` are extra labels for the event and the sandbox. The node and the
        context are checked against turnout.limits (nesting, size) before anything recurses
        over them.

        Raises `ValidationError`, `CodeExecutionError`, `InfrastructureError`,
        `InternalError` or `ConfigurationError`, each exactly once; the caller's own
        cancellation propagates as `asyncio.CancelledError`. (`Engine.execute` does it
        all; the client holds the engine and the event loop it belongs to.)
        """
        self._bind_loop()
        return await self._engine.execute(
            node,
            context,
            tenant_id=tenant_id,
            workflow_id=workflow_id,
            execution_id=execution_id,
            backend=backend,
            labels=labels,
        )

    def explain(
        self,
        *,
        tenant_id: str | None = None,
        workflow_id: str | None = None,
        execution_id: str | None = None,
        side_effect_free: bool = False,
    ) -> Decision:
        """The decision the flags in force make for these ids (what `turnout flags explain`
        prints): the stage, the authoritative and candidate backends, and why."""
        ids = check_ids(tenant_id=tenant_id, workflow_id=workflow_id, execution_id=execution_id)
        return self._engine.evaluator.decide(
            self.environment,
            tenant_id=ids["tenant_id"],
            workflow_id=ids["workflow_id"],
            execution_key=ids["execution_id"],
            side_effect_free=side_effect_free,
        )

    async def aclose(self, grace_s: float | None = None) -> ShutdownReport:
        """Refuse new executions, let those in flight finish for `grace_s` (default: the
        client's), cancel the rest, kill every sandbox and process. Idempotent."""
        if self._report is None:
            wait = self.grace_s if grace_s is None else grace_s
            self._report = await shutdown([self._engine], grace_s=wait, reason=_CLOSED)
        return self._report

    def install_signal_handlers(self, *, grace_s: float | None = None) -> ShutdownSignals:
        """Close this client on SIGTERM (see `turnout.shutdown.install_signal_handlers`):
        await `.finished` on the returned handle, then stop serving."""
        from turnout.shutdown import install_signal_handlers

        return install_signal_handlers(
            grace_s=self.grace_s if grace_s is None else grace_s, engines=lambda: [self._engine]
        )

    async def __aenter__(self) -> Client:
        self._bind_loop()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "this turnout.Client runs on another event loop (its backends belong to "
                "that loop); make one Client per event loop, or use Client.sync(...)"
            )


_CLOSED = "the client is closed"


class SyncClient:
    """The blocking face of a `Client`, run on turnout's shared loop thread; thread-safe.

    `with turnout.Client.sync(flags=...) as client: client.execute(node, context)`.
    """

    def __init__(self, client: Client, loop_thread: LoopThread | None = None) -> None:
        self._client = client
        self._thread = loop_thread if loop_thread is not None else shared_loop_thread()
        self._thread.adopt(client)  # closed at interpreter exit if nobody closed it

    @property
    def client(self) -> Client:
        """The async client underneath (for its properties; do not await it elsewhere)."""
        return self._client

    @property
    def environment(self) -> str:
        return self._client.environment

    def execute(
        self,
        node: Mapping[str, Any] | CodeNodeConfig,
        context: Mapping[str, Any],
        *,
        tenant_id: str | None = None,
        workflow_id: str | None = None,
        execution_id: str | None = None,
        backend: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Envelope:
        """`Client.execute`, blocking until the envelope or the error."""
        return self._thread.run(
            self._client.execute(
                node,
                context,
                tenant_id=tenant_id,
                workflow_id=workflow_id,
                execution_id=execution_id,
                backend=backend,
                labels=labels,
            )
        )

    def explain(
        self,
        *,
        tenant_id: str | None = None,
        workflow_id: str | None = None,
        execution_id: str | None = None,
        side_effect_free: bool = False,
    ) -> Decision:
        """`Client.explain` (it never blocks)."""
        return self._client.explain(
            tenant_id=tenant_id,
            workflow_id=workflow_id,
            execution_id=execution_id,
            side_effect_free=side_effect_free,
        )

    def close(self, grace_s: float | None = None) -> ShutdownReport:
        """`Client.aclose`, blocking; safe from a `signal.signal` handler or any thread."""
        return self._thread.run(self._client.aclose(grace_s))

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
