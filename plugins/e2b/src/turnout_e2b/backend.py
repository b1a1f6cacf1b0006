"""The e2b backend: one fresh E2B sandbox per execution, through the official SDK.

Path of an execution: wait for a slot (at most `max_concurrency` executions in flight per
backend) -> take a sandbox from the warm pool when one is configured and ready, else create
one (retried with jittered backoff on retryable failures, within a budget; user code has not
started, so a retry is safe) -> upload input files -> load turnout's runtime in the kernel
(`turnout_e2b.cells`) -> run the node's cell with its timeout enforced here, not by the SDK
(its `run_code` timeout fires at about twice the value) -> read the result file -> kill the
sandbox in the background, bounded and retried once. `aclose` drains the pool and waits for
every pending kill, so no sandbox created here outlives the backend; one that does (the
process died) is killed by the exit hook of `turnout_e2b.pool`, or expires with its lifetime
and carries tags for `turnout e2b reap`.

Every execution reports what it cost in `ExecutionResult.usage` (see `turnout_e2b.cost`),
and every kill logs `sandbox_released` with the exact create-to-kill seconds.

The SDK is imported on first use, so registering this backend costs nothing.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from typing import TYPE_CHECKING, Any, ClassVar

from turnout.backend import BackendSettings
from turnout.errors import InfrastructureError
from turnout.logging import get_logger
from turnout.models import (
    Capabilities,
    ExecutionRequest,
    ExecutionResult,
    Language,
)
from turnout.tracing import span
from turnout_e2b.capabilities import capabilities_for
from turnout_e2b.cells import cells_for, inline_result
from turnout_e2b.connection import Connection, resolve_connection
from turnout_e2b.cost import Pricing, usage
from turnout_e2b.errors import map_exception, translate_errors
from turnout_e2b.options import BACKEND_ID, E2BOptions, parse_options
from turnout_e2b.output import CappedText
from turnout_e2b.pool import SandboxLedger, SandboxPool
from turnout_e2b.sandboxes import Hold, Sandboxes, ms_since

if TYPE_CHECKING:
    from e2b_code_interpreter import AsyncSandbox

__all__ = ["E2BBackend"]

log = get_logger("turnout.e2b")
SDK_LANGUAGE = {"python": "python", "javascript": "js"}
RUN_CODE_BACKSTOP_S = 5.0
DRAIN_ROUNDS = 10
DRAIN_S = 0.02


class E2BBackend:
    """Runs each execution in its own E2B sandbox (a Firecracker microVM at E2B, kernels in
    their own namespaces at the local E2B-compatible server)."""

    id: ClassVar[str] = BACKEND_ID
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = (
        "E2B sandboxes through the official SDK (Firecracker microVMs at E2B; kernels in "
        "namespaces at the local E2B-compatible server)"
    )
    options_model: ClassVar[type[E2BOptions]] = E2BOptions

    def __init__(self, settings: BackendSettings) -> None:
        self._settings = settings
        self._options: E2BOptions = parse_options(settings.options)
        self._pricing = Pricing.from_options(self._options)
        self._connection: Connection | None = None
        self._connection_lock = asyncio.Lock()
        self._slots: asyncio.Semaphore | None = None
        self._abandoned: set[asyncio.Future[Any]] = set()
        self._pool: SandboxPool | None = None
        self._ledger = SandboxLedger(closer=weakref.WeakMethod(self.aclose))
        self._sandboxes = Sandboxes(self._options, settings, self._pricing, self._ledger)
        # Fail at construction, not at the first execution, when no key can be found.
        planned = resolve_connection(self._options, settings.environment, dry_run=True)
        self._capabilities = capabilities_for(self._options, planned)

    @property
    def capabilities(self) -> Capabilities:
        """What this instance does where its calls go (`endpoint`): at E2B, each execution in
        a Firecracker microVM of the template's size; at the local E2B-compatible server
        (embedded, or an `api_url` without a key), each in kernels that run in their own PID
        and mount namespaces on that host, with no memory limit. TypeScript is refused on
        either (turnout does not run typescript nodes)."""
        return self._capabilities

    @property
    def options(self) -> E2BOptions:
        """The options in force (for tools that size themselves to `max_concurrency`)."""
        return self._options

    @property
    def pool(self) -> SandboxPool | None:
        """The warm pool, once the first execution started it (None without a pool)."""
        return self._pool

    @property
    def max_concurrency(self) -> int:
        """Executions run at once; more wait for a slot (the optional protocol member)."""
        return self._options.max_concurrency

    @property
    def endpoint(self) -> str:
        """Where executions go, for reports: the E2B cloud or a local server's URL."""
        if self._connection is not None:
            return self._connection.label
        return resolve_connection(self._options, self._settings.environment, dry_run=True).label

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        # Queue time includes the first call's wait for the connection (an embedded
        # server starting): it is provisioning, not the code's time.
        queued = time.perf_counter()
        connection = await self._connect()
        pool = self._ensure_pool()
        slots = self._slots or asyncio.Semaphore(self._options.max_concurrency)
        self._slots = slots
        async with slots:
            timings: dict[str, float] = {"queue": ms_since(queued)}
            hold = self._take_from(pool, request, timings) if pool is not None else None
            if hold is None:
                hold = await self._sandboxes.create(request, connection, timings)
            try:
                with span("turnout.sandbox.run") as traced:
                    traced.set(sandbox__id=hold.sandbox.sandbox_id, pooled=hold.pooled)
                    return await self._run_in(hold, request, timings)
            finally:
                self._sandboxes.kill_in_background(hold)

    async def aclose(self) -> None:
        """Drain the pool and wait for every kill; nothing this backend created is left."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()
        await self._sandboxes.wait()
        if self._abandoned:
            await asyncio.wait(list(self._abandoned), timeout=self._options.kill_timeout_s)

    def _abandon(self, call: asyncio.Future[Any]) -> None:
        """Cancel an SDK call and track it until it ends; its outcome no longer matters."""
        call.cancel()
        self._abandoned.add(call)
        call.add_done_callback(self._abandoned.discard)
        call.add_done_callback(lambda done: done.cancelled() or done.exception())

    async def _ended_within(self, call: asyncio.Future[Any], timeout_s: float) -> bool:
        """Whether `call` ended within `timeout_s`; a cancelled caller abandons it.

        Not wait_for: under a busy stream the SDK's transport can ignore the cancellation
        for seconds, and wait_for waits for the cancelled call to finish. A call that did
        not end is the caller's to abandon; it ends when the background kill closes its
        sandbox, and aclose() waits for it.
        """
        try:
            done, _ = await asyncio.wait({call}, timeout=timeout_s)
        except asyncio.CancelledError:
            self._abandon(call)
            raise
        return call in done

    # -- phases -----------------------------------------------------------------------------

    async def _connect(self) -> Connection:
        if self._connection is None:
            async with self._connection_lock:
                if self._connection is None:
                    connection = await resolve_connection(
                        self._options, self._settings.environment
                    ).ensure_started()
                    self._ledger.params = connection.sdk_params()
                    self._ledger.loop = asyncio.get_running_loop()
                    self._connection = connection
        return self._connection

    def _ensure_pool(self) -> SandboxPool | None:
        """The pool, started on the first execution (never at construction); none where the
        engine said not to keep warm (a one-shot process)."""
        if self._options.pool_size == 0 or not self._settings.keep_warm:
            return None
        if self._pool is None:
            self._pool = SandboxPool(
                size=self._options.pool_size,
                max_age_s=self._options.pool_max_age_s,
                backoff_s=self._options.pool_refill_backoff_s,
                backoff_max_s=self._options.pool_refill_backoff_max_s,
                create=self._create_for_pool,
                discard=self._sandboxes.discard_pooled,
                environment=self._settings.environment,
            )
            self._pool.start()
        return self._pool

    async def _create_for_pool(self, key: str) -> AsyncSandbox:
        return await self._sandboxes.create_for_pool(key, await self._connect())

    def _take_from(
        self, pool: SandboxPool, request: ExecutionRequest, timings: dict[str, float]
    ) -> Hold | None:
        """A pooled sandbox for this execution (its lifetime shortened), or None on a miss."""
        started = time.perf_counter()
        pooled = pool.take()
        timings["pool_hit"] = 0.0 if pooled is None else 1.0
        log.debug(
            "sandbox_pool_take",
            execution_id=request.execution_id,
            hit=pooled is not None,
            idle=pool.idle,
            creating=pool.creating,
        )
        if pooled is None:
            return None
        now = time.perf_counter()
        timings["pool_take"] = ms_since(started)
        hold = Hold(
            pooled.sandbox,
            since=now,
            idle_s=now - pooled.create_started,
            execution_id=request.execution_id,
            labels=dict(request.labels),
            pooled=True,
        )
        lifetime_s = math.ceil(request.timeout_ms / 1000) + self._options.lifetime_margin_s
        hold.lifetime_update = asyncio.get_running_loop().create_task(
            self._shorten_lifetime(pooled.sandbox, lifetime_s)
        )
        return hold

    async def _shorten_lifetime(self, sandbox: AsyncSandbox, lifetime_s: int) -> None:
        """Bound a taken sandbox's lifetime by its node (off the critical path; never raises).

        The pool created it with room for its maximum age plus the longest node timeout,
        so the execution is safe even when this call fails; it only bounds a leak.
        """
        try:
            await sandbox.set_timeout(lifetime_s, request_timeout=self._options.request_timeout_s)
        except Exception as exc:
            log.warning(
                "sandbox_set_timeout_failed",
                sandbox_id=sandbox.sandbox_id,
                error=map_exception(exc, started=True).message,
            )

    async def _run_in(
        self, hold: Hold, request: ExecutionRequest, timings: dict[str, float]
    ) -> ExecutionResult:
        sandbox = hold.sandbox
        started = time.perf_counter()
        with translate_errors(started=False):
            for path, data in request.files.items():
                await sandbox.files.write(
                    path, data, request_timeout=self._options.request_timeout_s
                )
        timings["upload"] = ms_since(started)
        stdout = CappedText(self._options.output_cap_bytes, "stdout")
        stderr = CappedText(self._options.output_cap_bytes, "stderr")
        cells = cells_for(request)
        if cells.setup is not None:
            started = time.perf_counter()
            await self._load_runtime(sandbox, request.language, cells.setup, stdout, stderr)
            timings["setup"] = ms_since(started)
        termination = "exited"
        kernel_error: Any = None
        run_started = time.perf_counter()

        async def run() -> Any:
            # Translation wraps the SDK call only: the bounded wait below is the node's
            # timeout, not a transport failure.
            with translate_errors(started=True):
                return await sandbox.run_code(
                    cells.run,
                    language=SDK_LANGUAGE[request.language],
                    timeout=request.timeout_ms / 1000 + RUN_CODE_BACKSTOP_S,
                    request_timeout=self._options.request_timeout_s,
                    on_stdout=lambda message: stdout.add(message.line),
                    on_stderr=lambda message: stderr.add(message.line),
                )

        call = asyncio.ensure_future(run())
        inline: bytes | None = None
        if await self._ended_within(call, request.timeout_ms / 1000):
            execution = call.result()
            kernel_error = execution.error
            inline = inline_result(execution)
        else:
            termination = "timeout"
            await _drain_arrived_output(call)
            self._abandon(call)
        timings["run"] = ms_since(run_started)
        result, too_large = None, False
        if inline is not None:
            result = inline
        elif termination == "exited":
            result, too_large = await self._read_result(sandbox, request, timings)
        if kernel_error is not None and result is None:
            # The runtime itself did not finish in the kernel (not a user error: those are
            # outcomes). Keep the kernel's report where a human will look for it.
            stderr.add(
                f"\n[turnout: the kernel reported {kernel_error.name}: {kernel_error.value}]\n"
            )
        held_s = time.perf_counter() - hold.since
        return ExecutionResult(
            stdout=stdout.text,
            stderr=stderr.text,
            stdout_truncated=stdout.truncated,
            stderr_truncated=stderr.truncated,
            result=result,
            result_too_large=too_large,
            termination=termination,
            exit_code=None,
            sandbox_id=sandbox.sandbox_id,
            timings_ms=timings,
            usage=usage(self._pricing, held_s, hold.idle_s),
        )

    async def _load_runtime(
        self,
        sandbox: AsyncSandbox,
        language: Language,
        cell: str,
        stdout: CappedText,
        stderr: CappedText,
    ) -> None:
        """Run turnout's runtime cell before the node's timeout starts (see `turnout_e2b.cells`).

        Bounded by `request_timeout_s`. A kernel that fails or stalls on it is the
        platform's failure, raised before any user code ran (so a fallback may run the node
        elsewhere); a cancelled caller abandons the call like a cancelled run.
        """
        bound_s = self._options.request_timeout_s

        async def load() -> Any:
            with translate_errors(started=False):
                return await sandbox.run_code(
                    cell,
                    language=SDK_LANGUAGE[language],
                    timeout=bound_s,
                    request_timeout=bound_s,
                    on_stdout=lambda message: stdout.add(message.line),
                    on_stderr=lambda message: stderr.add(message.line),
                )

        call = asyncio.ensure_future(load())
        if not await self._ended_within(call, bound_s):
            self._abandon(call)
            raise InfrastructureError(
                f"turnout's {language} runtime did not load in the sandbox's kernel within "
                f"{bound_s:g} s (request_timeout_s); no user code ran",
                backend=BACKEND_ID,
            )
        error = call.result().error
        if error is not None:
            raise InfrastructureError(
                f"turnout's {language} runtime failed to load in the sandbox's kernel "
                f"({error.name}: {error.value}); no user code ran",
                backend=BACKEND_ID,
            )

    async def _read_result(
        self, sandbox: AsyncSandbox, request: ExecutionRequest, timings: dict[str, float]
    ) -> tuple[bytes | None, bool]:
        """The result file's bytes, or (None, True) past the limit, or (None, False) if absent.

        Streamed with a cap: one round trip, and a result larger than the limit is never
        held in memory (reading stops at limit + 1 bytes).
        """
        from e2b.exceptions import FileNotFoundException, NotFoundException

        started = time.perf_counter()
        limit = min(request.max_result_bytes, self._options.max_result_bytes)
        try:
            with translate_errors(started=True):
                try:
                    reader = await sandbox.files.read(
                        request.result_path,
                        format="stream",
                        request_timeout=self._options.request_timeout_s,
                    )
                except (FileNotFoundException, NotFoundException):
                    return None, False
                chunks: list[bytes] = []
                size = 0
                async with reader:
                    async for chunk in reader:
                        size += len(chunk)
                        if size > limit:
                            return None, True
                        chunks.append(chunk)
            return b"".join(chunks), False
        finally:
            timings["download"] = ms_since(started)


async def _drain_arrived_output(call: asyncio.Future[Any]) -> None:
    """Let output that reached this process before the deadline be handed to the call.

    When the event loop was held up across the deadline (a synchronous process spawn under
    a fork storm held it for seconds), the deadline's timer and the output that arrived
    meanwhile are ready at once, and cancelling the call straight away dropped that output:
    a timeout reported no stdout although the code had printed in time. A few rounds of
    the event loop, and a few milliseconds for a transport thread to pass on what it read,
    let it through; output produced after the deadline may come along in that window, as it
    does on local-subprocess, whose kill lands after the deadline too. The whole window is
    DRAIN_S of wall time, rounds included: on a starved machine a round of a loop busy with
    twenty executions can take tens of milliseconds, and CI's chaos run saw a 1.5 s timeout
    answered after 2.4 s while the drain counted rounds alone.
    """
    deadline = time.perf_counter() + DRAIN_S
    for _ in range(DRAIN_ROUNDS):
        if call.done() or time.perf_counter() >= deadline:
            return
        await asyncio.sleep(0)
    remaining = deadline - time.perf_counter()
    if remaining > 0:
        await asyncio.wait({call}, timeout=remaining)
