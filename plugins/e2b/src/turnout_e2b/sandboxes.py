"""The sandboxes one e2b backend instance creates, from their create to their kill.

A create is retried with jittered backoff on retryable failures, within a budget (user
code has not started, so a retry is safe). It is never abandoned half-way: a cancelled
caller stops waiting, the create goes on, and its sandbox is killed in the background.
Every kill is bounded and retried once, runs in the background, and logs
`sandbox_released` with what the sandbox cost (the create's retries and its giving up are
events too: all three are defined in `turnout_e2b.events`); `wait` returns once no create or kill is
left, which is how the backend's `aclose` makes sure nothing it created outlives it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from turnout.backend import BackendSettings
from turnout.errors import InfrastructureError
from turnout.logging import get_logger
from turnout.models import MAX_TIMEOUT_MS, ExecutionRequest
from turnout.tracing import Span, sandbox_created, sandbox_killed, span
from turnout_e2b.connection import Connection
from turnout_e2b.cost import Pricing
from turnout_e2b.errors import map_exception, translate_errors
from turnout_e2b.events import SandboxCreateFailed, SandboxCreateRetry, SandboxReleased
from turnout_e2b.options import BACKEND_ID, E2BOptions
from turnout_e2b.pool import POOL_KEY, PooledSandbox, SandboxLedger
from turnout_e2b.tags import OWNER_KEY, OWNER_VALUE, sandbox_metadata

if TYPE_CHECKING:
    from e2b_code_interpreter import AsyncSandbox

__all__ = ["EXECUTION_KEY", "Hold", "Sandboxes", "ms_since"]

log = get_logger("turnout.e2b")
EXECUTION_KEY = "turnout_execution_id"
"""Metadata key that identifies a non-pooled sandbox (see tags.py), for the exit hook."""


@dataclass(eq=False)
class Hold:
    """A sandbox held for one execution (or discarded by the pool), until its kill.

    `since` (perf_counter) is when the holder's charge starts: the start of the create call
    that produced it, or the take from the pool. `idle_s` is the pool's idle time charged
    along with it (0 without a pool).
    """

    sandbox: AsyncSandbox
    since: float
    idle_s: float = 0.0
    execution_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    pooled: bool = False
    reason: str = "executed"
    lifetime_update: asyncio.Task[None] | None = None


class Sandboxes:
    """Creates and kills the sandboxes of one backend instance; see the module docstring."""

    def __init__(
        self,
        options: E2BOptions,
        settings: BackendSettings,
        pricing: Pricing,
        ledger: SandboxLedger,
    ) -> None:
        self._options = options
        self._settings = settings
        self._pricing = pricing
        self._ledger = ledger
        self._kills: set[asyncio.Task[None]] = set()
        self._creates: set[asyncio.Task[AsyncSandbox]] = set()

    async def wait(self) -> None:
        """Until no create or kill is left (a create whose caller was cancelled still
        lands, and its sandbox is killed)."""
        while self._creates or self._kills:
            await asyncio.gather(*self._creates, *self._kills, return_exceptions=True)

    async def create(
        self, request: ExecutionRequest, connection: Connection, timings: dict[str, float]
    ) -> Hold:
        """A new sandbox for `request`, retried with jittered backoff within the budget."""
        with span("turnout.sandbox.create") as traced:
            hold = await self._create_with_retries(request, connection, timings)
            traced.set(sandbox__id=hold.sandbox.sandbox_id, attempts=timings["create_attempts"])
            return hold

    async def _create_with_retries(
        self, request: ExecutionRequest, connection: Connection, timings: dict[str, float]
    ) -> Hold:
        lifetime_s = math.ceil(request.timeout_ms / 1000) + self._options.lifetime_margin_s
        metadata = sandbox_metadata(request, self._settings.environment)
        started = time.perf_counter()
        deadline = started + self._options.create_budget_s
        attempt = 0
        while True:
            attempt += 1
            attempt_started = time.perf_counter()
            try:
                sandbox = await self._sdk_create(
                    f"{request.execution_id}:{attempt}",
                    (EXECUTION_KEY, request.execution_id),
                    template=self._options.template,
                    timeout=lifetime_s,
                    metadata=metadata,
                    envs={},
                    idempotency_key=request.execution_id,
                    request_timeout=self._options.request_timeout_s,
                    retries=0,
                    **connection.sdk_params(),
                )
                timings["create"] = ms_since(started)
                timings["create_attempts"] = attempt
                return Hold(
                    sandbox,
                    since=attempt_started,
                    execution_id=request.execution_id,
                    labels=dict(request.labels),
                )
            except InfrastructureError as error:
                delay = self._backoff(attempt, error)
                if (
                    not error.retryable
                    or attempt >= self._options.create_attempts
                    or time.perf_counter() + delay > deadline
                ):
                    failed = SandboxCreateFailed(
                        execution_id=request.execution_id, attempts=attempt, error=error.message
                    )
                    log.emit(failed, level=logging.WARNING)
                    raise
                log.emit(
                    SandboxCreateRetry(
                        execution_id=request.execution_id,
                        attempt=attempt,
                        delay_s=round(delay, 3),
                        error=error.message,
                    )
                )
                await asyncio.sleep(delay)

    async def create_for_pool(self, key: str, connection: Connection) -> AsyncSandbox:
        """One pooled sandbox: no retries (the pool backs off), room for age + any node."""
        lifetime_s = (
            math.ceil(self._options.pool_max_age_s)
            + MAX_TIMEOUT_MS // 1000
            + self._options.lifetime_margin_s
        )
        metadata = {
            OWNER_KEY: OWNER_VALUE,
            "turnout_environment": self._settings.environment,
            "turnout_created_at": str(int(time.time())),
            "turnout_pool": "1",
            POOL_KEY: key,
        }
        return await self._sdk_create(
            key,
            (POOL_KEY, key),
            template=self._options.template,
            timeout=lifetime_s,
            metadata=metadata,
            envs={},
            idempotency_key=key,
            request_timeout=self._options.request_timeout_s,
            retries=0,
            **connection.sdk_params(),
        )

    async def _sdk_create(self, key: str, tag: tuple[str, str], **arguments: Any) -> AsyncSandbox:
        """`AsyncSandbox.create`, recorded in the ledger, and never abandoned half-way.

        A cancelled caller stops waiting at once, but the create call goes on in its own
        task and the sandbox it makes is killed in the background (aclose waits):
        abandoning the HTTP call instead could leave a sandbox nobody knows about, and
        (measured against the local server) a cancel that lands once the response is on
        its way is swallowed by the SDK's transport, which would hand a sandbox to a
        caller that asked to stop.
        """
        from e2b_code_interpreter import AsyncSandbox

        self._ledger.begin_create(key, *tag)
        task = asyncio.get_running_loop().create_task(AsyncSandbox.create(**arguments))
        self._creates.add(task)
        task.add_done_callback(self._creates.discard)
        try:
            with translate_errors(started=False):
                sandbox = await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(lambda done: self._created_after_cancel(key, done))
            raise
        except BaseException:
            self._ledger.end_create(key, None)
            raise
        self._ledger.end_create(key, sandbox.sandbox_id)
        sandbox_created(BACKEND_ID)
        return sandbox

    def _created_after_cancel(self, key: str, done: asyncio.Task[AsyncSandbox]) -> None:
        if done.cancelled() or done.exception() is not None:
            # A cancelled create stays in the ledger: the exit hook looks for its sandbox.
            if not done.cancelled():
                self._ledger.end_create(key, None)
            return
        sandbox = done.result()
        self._ledger.end_create(key, sandbox.sandbox_id)
        sandbox_created(BACKEND_ID)
        self.kill_in_background(Hold(sandbox, since=time.perf_counter(), reason="cancelled"))

    def discard_pooled(self, pooled: PooledSandbox, reason: str) -> None:
        """Kill a sandbox the pool gave up (aged, unhealthy, drained), charged its idle time."""
        now = time.perf_counter()
        idle = now - pooled.create_started
        self.kill_in_background(
            Hold(pooled.sandbox, since=now, idle_s=idle, pooled=True, reason=reason)
        )

    def _backoff(self, attempt: int, error: InfrastructureError) -> float:
        base = self._options.create_backoff_s * (2 ** (attempt - 1))
        jittered = random.uniform(base / 2, base)
        return max(jittered, error.retry_after or 0.0)

    def kill_in_background(self, hold: Hold) -> None:
        task = asyncio.get_running_loop().create_task(self._kill(hold))
        self._kills.add(task)
        task.add_done_callback(self._kills.discard)

    async def _kill(self, hold: Hold) -> None:
        """Kill with a bound, retry once; log what the sandbox cost; never raise. The kill
        of an execution's sandbox is a span of that execution (a pool's discard belongs to
        none)."""
        if hold.execution_id is None:
            await self._kill_sandbox(hold, Span())
            return
        with span("turnout.sandbox.kill") as traced:
            traced.set(sandbox__id=hold.sandbox.sandbox_id, reason=hold.reason)
            await self._kill_sandbox(hold, traced)

    async def _kill_sandbox(self, hold: Hold, traced: Span) -> None:
        sandbox = hold.sandbox
        if hold.lifetime_update is not None:
            # Not concurrently with the kill: a set_timeout landing after it would fail.
            await asyncio.wait([hold.lifetime_update])
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                await asyncio.wait_for(sandbox.kill(), timeout=self._options.kill_timeout_s)
            except Exception as exc:
                error = map_exception(exc, started=True)
                log.warning(
                    "sandbox_kill_failed",
                    sandbox_id=sandbox.sandbox_id,
                    execution_id=hold.execution_id,
                    attempt=attempt,
                    error=error.message,
                )
                continue
            self._ledger.killed(sandbox.sandbox_id)
            sandbox_killed(BACKEND_ID)
            self._log_release(hold, started)
            traced.set(outcome="success", attempts=attempt)
            return
        traced.set(outcome="kill_failed", attempts=2)

    def _log_release(self, hold: Hold, kill_started: float) -> None:
        """`sandbox_released`: the exact seconds from create (or take) to kill completed."""
        now = time.perf_counter()
        held_s = now - hold.since
        log.emit(
            SandboxReleased(
                sandbox_id=hold.sandbox.sandbox_id,
                execution_id=hold.execution_id,
                environment=self._settings.environment,
                reason=hold.reason,
                pooled=hold.pooled,
                sandbox_seconds=round(held_s, 3),
                pool_idle_seconds=round(hold.idle_s, 3),
                cost_usd=round(self._pricing.cost(held_s + hold.idle_s), 9),
                kill_ms=ms_since(kill_started),
                labels=hold.labels,
            )
        )


def ms_since(started: float) -> float:
    """Milliseconds since `started` (perf_counter), to the microsecond, for timings."""
    return round((time.perf_counter() - started) * 1000, 3)
