"""The e2b backend: one fresh E2B sandbox per execution, through the official SDK.

Path of an execution: wait for a slot (at most `max_concurrency` live sandboxes per
process) -> create the sandbox (retried with jittered backoff on retryable failures, within
a budget; user code has not started, so a retry is safe) -> upload input files -> run the
program with the node's timeout enforced here, not by the SDK (its `run_code` timeout fires
at about twice the value) -> read the result file -> kill the sandbox in the background,
bounded and retried once. `aclose` waits for every pending kill, so no sandbox created
here outlives the backend; one that does (the process died) expires with its lifetime
(node timeout + margin) and carries tags for `turnout e2b reap`.

The SDK is imported on first use, so registering this backend costs nothing.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from typing import TYPE_CHECKING, Any, ClassVar

import structlog

from turnout.backend import BackendSettings
from turnout.errors import InfrastructureError
from turnout.models import MAX_TIMEOUT_MS, Capabilities, ExecutionRequest, ExecutionResult
from turnout_e2b.connection import Connection, resolve_connection
from turnout_e2b.errors import map_exception, translate_errors
from turnout_e2b.options import BACKEND_ID, E2BOptions, parse_options
from turnout_e2b.output import CappedText
from turnout_e2b.tags import sandbox_metadata

if TYPE_CHECKING:
    from e2b_code_interpreter import AsyncSandbox

__all__ = ["E2BBackend"]

log = structlog.get_logger("turnout.e2b")
SDK_LANGUAGE = {"python": "python", "javascript": "js"}
RUN_CODE_BACKSTOP_S = 5.0


class E2BBackend:
    """Runs each execution in its own E2B sandbox (Firecracker microVM in the cloud)."""

    id: ClassVar[str] = BACKEND_ID
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = "E2B sandboxes (Firecracker microVMs) through the official SDK"

    def __init__(self, settings: BackendSettings) -> None:
        self._settings = settings
        self._options: E2BOptions = parse_options(settings.options)
        self._connection: Connection | None = None
        self._connection_lock = asyncio.Lock()
        self._slots: asyncio.Semaphore | None = None
        self._kills: set[asyncio.Task[None]] = set()
        self._abandoned: set[asyncio.Future[Any]] = set()
        self._creates: set[asyncio.Task[AsyncSandbox]] = set()
        # Fail at construction, not at the first execution, when no key can be found.
        resolve_connection(self._options, settings.environment, dry_run=True)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            languages=frozenset({"python", "javascript"}),
            isolation="microvm",
            network_access=True,
            max_timeout_ms=MAX_TIMEOUT_MS,
            max_output_bytes=self._options.output_cap_bytes,
            max_result_bytes=self._options.max_result_bytes,
            memory_limit_mb=None,
            memory_enforcement="sandbox",
            host_environment_visible=False,
            supports_typescript=True,
            persistent_filesystem=False,
        )

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
        slots = self._slots or asyncio.Semaphore(self._options.max_concurrency)
        self._slots = slots
        async with slots:
            timings: dict[str, float] = {"queue": _ms_since(queued)}
            sandbox = await self._create(request, connection, timings)
            try:
                return await self._run_in(sandbox, request, timings)
            finally:
                self._kill_in_background(sandbox, request.execution_id)

    async def aclose(self) -> None:
        """Wait for every background kill; nothing this backend created is left running."""
        while self._creates or self._kills:
            # A create whose caller was cancelled still lands, and its sandbox is killed.
            await asyncio.gather(*self._creates, *self._kills, return_exceptions=True)
        if self._abandoned:
            await asyncio.wait(list(self._abandoned), timeout=self._options.kill_timeout_s)

    def _abandon(self, call: asyncio.Future[Any]) -> None:
        """Track a cancelled SDK call until it ends; its outcome no longer matters."""
        self._abandoned.add(call)
        call.add_done_callback(self._abandoned.discard)
        call.add_done_callback(lambda done: done.cancelled() or done.exception())

    # -- phases -----------------------------------------------------------------------------

    async def _connect(self) -> Connection:
        if self._connection is None:
            async with self._connection_lock:
                if self._connection is None:
                    self._connection = await resolve_connection(
                        self._options, self._settings.environment
                    ).ensure_started()
        return self._connection

    async def _create(
        self, request: ExecutionRequest, connection: Connection, timings: dict[str, float]
    ) -> AsyncSandbox:
        lifetime_s = math.ceil(request.timeout_ms / 1000) + self._options.lifetime_margin_s
        metadata = sandbox_metadata(request, self._settings.environment)
        started = time.perf_counter()
        deadline = started + self._options.create_budget_s
        attempt = 0
        while True:
            attempt += 1
            try:
                sandbox = await self._sdk_create(
                    template=self._options.template,
                    timeout=lifetime_s,
                    metadata=metadata,
                    envs={},
                    idempotency_key=request.execution_id,
                    request_timeout=self._options.request_timeout_s,
                    retries=0,
                    **connection.sdk_params(),
                )
                timings["create"] = _ms_since(started)
                timings["create_attempts"] = attempt
                return sandbox
            except InfrastructureError as error:
                delay = self._backoff(attempt, error)
                if (
                    not error.retryable
                    or attempt >= self._options.create_attempts
                    or time.perf_counter() + delay > deadline
                ):
                    log.warning(
                        "sandbox_create_failed",
                        execution_id=request.execution_id,
                        attempts=attempt,
                        error=error.message,
                    )
                    raise
                log.info(
                    "sandbox_create_retry",
                    execution_id=request.execution_id,
                    attempt=attempt,
                    delay_s=round(delay, 3),
                    error=error.message,
                )
                await asyncio.sleep(delay)

    async def _sdk_create(self, **arguments: Any) -> AsyncSandbox:
        """`AsyncSandbox.create` in a task of its own, so a cancelled caller leaks nothing.

        Measured against the local server: a cancel that lands once the response is on
        its way is swallowed by the SDK's transport, and the create returns a sandbox to
        a caller that asked to stop. Here the caller stops waiting at once; the create
        goes on and the sandbox it makes is killed in the background (aclose waits).
        """
        from e2b_code_interpreter import AsyncSandbox

        task = asyncio.get_running_loop().create_task(AsyncSandbox.create(**arguments))
        self._creates.add(task)
        task.add_done_callback(self._creates.discard)
        try:
            with translate_errors(started=False):
                return await asyncio.shield(task)
        except asyncio.CancelledError:
            execution_id = str(arguments.get("idempotency_key", ""))
            task.add_done_callback(lambda create: self._kill_after_cancel(create, execution_id))
            raise

    def _kill_after_cancel(self, create: asyncio.Task[AsyncSandbox], execution_id: str) -> None:
        if not create.cancelled() and create.exception() is None:
            self._kill_in_background(create.result(), execution_id)

    def _backoff(self, attempt: int, error: InfrastructureError) -> float:
        base = self._options.create_backoff_s * (2 ** (attempt - 1))
        jittered = random.uniform(base / 2, base)
        return max(jittered, error.retry_after or 0.0)

    async def _run_in(
        self, sandbox: AsyncSandbox, request: ExecutionRequest, timings: dict[str, float]
    ) -> ExecutionResult:
        started = time.perf_counter()
        with translate_errors(started=False):
            for path, data in request.files.items():
                await sandbox.files.write(
                    path, data, request_timeout=self._options.request_timeout_s
                )
        timings["upload"] = _ms_since(started)
        stdout = CappedText(self._options.output_cap_bytes, "stdout")
        stderr = CappedText(self._options.output_cap_bytes, "stderr")
        termination = "exited"
        kernel_error: Any = None
        run_started = time.perf_counter()

        async def run() -> Any:
            # Translation wraps the SDK call only: the wait_for TimeoutError below is the
            # node's timeout, not a transport failure.
            with translate_errors(started=True):
                return await sandbox.run_code(
                    request.program,
                    language=SDK_LANGUAGE[request.language],
                    timeout=request.timeout_ms / 1000 + RUN_CODE_BACKSTOP_S,
                    request_timeout=self._options.request_timeout_s,
                    on_stdout=lambda message: stdout.add(message.line),
                    on_stderr=lambda message: stderr.add(message.line),
                )

        # Not wait_for: under a busy stream the SDK's transport can ignore the cancellation
        # for seconds, and wait_for waits for the cancelled call to finish. The timeout is
        # answered at once; the abandoned call ends when the background kill closes its
        # sandbox, and aclose() waits for it.
        call = asyncio.ensure_future(run())
        try:
            done, _ = await asyncio.wait({call}, timeout=request.timeout_ms / 1000)
        except asyncio.CancelledError:
            call.cancel()
            self._abandon(call)
            raise
        if call in done:
            execution = call.result()
            kernel_error = execution.error
        else:
            termination = "timeout"
            call.cancel()
            self._abandon(call)
        timings["run"] = _ms_since(run_started)
        result, too_large = None, False
        if termination == "exited":
            result, too_large = await self._read_result(sandbox, request, timings)
        if kernel_error is not None and result is None:
            # The runtime itself did not finish in the kernel (not a user error: those are
            # outcomes). Keep the kernel's report where a human will look for it.
            stderr.add(
                f"\n[turnout: the kernel reported {kernel_error.name}: {kernel_error.value}]\n"
            )
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
            timings["download"] = _ms_since(started)

    # -- cleanup ----------------------------------------------------------------------------

    def _kill_in_background(self, sandbox: AsyncSandbox, execution_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._kill(sandbox, execution_id))
        self._kills.add(task)
        task.add_done_callback(self._kills.discard)

    async def _kill(self, sandbox: AsyncSandbox, execution_id: str) -> None:
        """Kill with a bound, retry once; log a failure, never raise it over a result."""
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                await asyncio.wait_for(sandbox.kill(), timeout=self._options.kill_timeout_s)
                log.debug(
                    "sandbox_killed",
                    sandbox_id=sandbox.sandbox_id,
                    execution_id=execution_id,
                    kill_ms=_ms_since(started),
                )
                return
            except Exception as exc:
                error = map_exception(exc, started=True)
                log.warning(
                    "sandbox_kill_failed",
                    sandbox_id=sandbox.sandbox_id,
                    execution_id=execution_id,
                    attempt=attempt,
                    error=error.message,
                )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
