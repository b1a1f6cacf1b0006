"""One chaos run: start the local E2B-compatible server, run the plan through turnout with
faults injected, then account for every execution and every sandbox.

Executions go through `Engine.execute(..., backend="e2b")`, the path production executions
take, with the e2b backend pointed at the local server (`api_url`, `sandbox_url`) and its
`max_concurrency` set to the run's concurrency. The server gets `max_sandboxes` (a create
beyond it answers 429, like E2B's concurrency limit).

Fault injection and its accounting: an execution that the plan arms with a fault queues
it on the server right before its `Engine.execute` call. The server fires a queued fault on
the next matching call (a create, an /execute, a kill), so with executions in flight the
fault may hit a *concurrent* execution instead of the one that queued it. The plan (how
many faults of each kind, and when) is therefore exact and seeded; who is hit is not. The
run accounts by the server's own numbers: faults queued minus faults still pending at the
end is faults fired, per kind, and every execution's outcome is checked against its own
workload (a retryable infrastructure error is acceptable for any workload, because some
fault may have hit it). Execution faults are not targeted at a `sandbox_id`: the sandbox
only exists inside `Engine.execute`, and /execute follows its create within milliseconds.

Retries are read from the backend's own log events (`sandbox_create_retry`,
`sandbox_create_failed`), captured for the duration of the run, parsed into their types
(`turnout_e2b.events`) and not printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from turnout.engine import Engine
from turnout.errors import CodeExecutionError, InfrastructureError, TurnoutError
from turnout.flags import FlagFile, parse_flags
from turnout_devtools.chaos import server as chaos_server
from turnout_devtools.chaos.observers import Beacon, EventCapture, PeakWatcher, ReadyWatch
from turnout_devtools.chaos.report import ChaosReport, ExecutionRecord
from turnout_devtools.chaos.spec import (
    FAULT_PAYLOADS,
    FaultSpec,
    PlannedExecution,
    node_config,
    plan,
)

if TYPE_CHECKING:
    from turnout_e2b_server.supervisor import ServerProcess

__all__ = ["ChaosOptions", "run_chaos"]

ENVIRONMENT = "chaos"
#: A call still running this long after its node's timeout counts as hung.
HANG_S = 60.0
WARM_UP_S = 60.0
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ChaosOptions:
    """What to run: how many executions, how many at once, which faults, which seed."""

    executions: int = 100
    concurrency: int = 20
    spec: FaultSpec = field(default_factory=lambda: FaultSpec({}))
    seed: int = 0
    max_sandboxes: int | None = None
    """Server-side cap on live sandboxes (None: the concurrency)."""
    pool: int = 10
    """Kernels the server keeps started ahead, per language."""

    @property
    def cap(self) -> int:
        return self.max_sandboxes if self.max_sandboxes is not None else self.concurrency


async def run_chaos(options: ChaosOptions, *, progress: Progress | None = None) -> ChaosReport:
    """Run the plan against a fresh local server and report; never touches E2B's cloud."""
    planned = plan(options.executions, options.spec, options.seed)
    server = chaos_server.new_server(
        "--max-sandboxes",
        str(options.cap),
        "--python-pool",
        str(options.pool),
        "--javascript-pool",
        str(options.pool),
    )
    report = ChaosReport(
        executions=options.executions,
        concurrency=options.concurrency,
        seed=options.seed,
        spec=options.spec,
        max_sandboxes=options.cap,
        server="local E2B-compatible server",
        rss_start_mb=_rss_mb("VmRSS"),
    )
    capture = EventCapture()
    watch = ReadyWatch()
    with _server_key(server.api_key), capture.installed(), watch.installed():
        await chaos_server.start(server)
        report.server = f"local E2B-compatible server at {server.url}"
        try:
            await _run(planned, options, server, report, capture, watch, progress)
        finally:
            report.server_problems = await chaos_server.stop(server)
    report.rss_peak_mb = max(
        _rss_mb("VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    report.rss_end_mb = _rss_mb("VmRSS")
    return report


async def _run(
    planned: list[PlannedExecution],
    options: ChaosOptions,
    server: ServerProcess,
    report: ChaosReport,
    capture: EventCapture,
    watch: ReadyWatch,
    progress: Progress | None,
) -> None:
    await _warm_up(server, options.pool)
    engine = Engine(ENVIRONMENT, flags=_flags(server.url, options.concurrency))
    beacon = Beacon()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: beacon, local_addr=("127.0.0.1", 0)
    )
    port = int(transport.get_extra_info("sockname")[1])
    slots = asyncio.Semaphore(options.concurrency)
    done = 0
    peak = PeakWatcher(server)
    watcher = asyncio.get_running_loop().create_task(peak.watch())
    started = time.perf_counter()

    async def one(execution: PlannedExecution) -> ExecutionRecord:
        nonlocal done
        async with slots:
            if execution.fault is not None:
                await server.ainject(FAULT_PAYLOADS[execution.fault])
            record = await _execute(engine, execution, beacon, watch, port)
        done += 1
        if progress is not None:
            progress(done, len(planned))
        return record

    try:
        report.records = list(await asyncio.gather(*(one(execution) for execution in planned)))
    finally:
        await engine.aclose()
        transport.close()
        report.duration_s = time.perf_counter() - started
        peak.stop()
        await watcher
    stats = await server.astats()
    report.peak_live_sandboxes = max(peak.peak, stats["live_sandboxes"])
    report.leaked_sandboxes = [sandbox["sandboxID"] for sandbox in stats["sandboxes"]]
    report.counters = dict(stats["counters"])
    pending = Counter(_kind_of(fault) for fault in await server.apending_faults())
    await server.aclear_faults()
    queued = Counter(e.fault for e in planned if e.fault is not None)
    report.faults_queued = {kind: queued[kind] for kind in options.spec.rates}
    report.faults_fired = {kind: queued[kind] - pending[kind] for kind in options.spec.rates}
    report.records = [
        replace(
            record,
            acquire_ms=capture.acquire_ms(record),
            backend_timings_ms=capture.backend_timings.get(record.index, {}),
        )
        for record in report.records
    ]
    report.event_problems = list(capture.problems)
    # On use, like the capture's: the e2b plugin is checked for when the server is made.
    from turnout_e2b.events import SandboxCreateFailed, SandboxCreateRetry

    report.create_retries = capture.count(SandboxCreateRetry)
    report.creates_given_up = capture.count(SandboxCreateFailed)


async def _execute(
    engine: Engine, execution: PlannedExecution, beacon: Beacon, watch: ReadyWatch, port: int
) -> ExecutionRecord:
    node = node_config(execution, beacon_port=port)
    base: dict[str, Any] = {
        "index": execution.index,
        "language": execution.language,
        "workload": execution.workload,
        "fault": execution.fault,
        "timeout_ms": execution.timeout_ms,
    }
    bound = execution.timeout_ms / 1000 + HANG_S
    started = time.perf_counter()

    def ended(**fields: Any) -> ExecutionRecord:
        wall_ms = (time.perf_counter() - started) * 1000
        return ExecutionRecord(
            **base,
            wall_ms=wall_ms,
            code_start_ms=beacon.since(execution.index, started),
            ready_ms=watch.since(execution.index, started),
            **fields,
        )

    try:
        envelope = await asyncio.wait_for(
            engine.execute(
                node, {"n": execution.index}, backend="e2b", labels={"chaos": str(execution.index)}
            ),
            timeout=bound,
        )
    except CodeExecutionError as error:
        return ended(
            outcome="error",
            error_type="CodeExecutionError",
            error_kind=error.kind,
            retryable=error.retryable,
            message=error.message[:300],
        )
    except InfrastructureError as error:
        return ended(
            outcome="error",
            error_type="InfrastructureError",
            error_kind="infrastructure",
            retryable=error.retryable,
            started=error.started,
            message=error.message[:300],
        )
    except TurnoutError as error:
        return ended(
            outcome="error",
            error_type=type(error).__name__,
            retryable=error.retryable,
            message=error.message[:300],
        )
    except TimeoutError:
        if (time.perf_counter() - started) >= bound - 0.001:
            return ended(outcome="hang", message=f"no answer after {bound:.0f} s")
        return ended(outcome="crash", message="TimeoutError")
    except Exception as exc:  # not a turnout error: exactly what the run must catch
        return ended(outcome="crash", message=f"{type(exc).__name__}: {exc}")
    return ended(outcome="ok", output_ok=envelope.output == {"n": execution.index})


async def _warm_up(server: ServerProcess, pool: int) -> None:
    """Wait (at most WARM_UP_S) until the server's kernel pool is full, so the first
    executions do not pay for kernels the server is still starting."""
    deadline = time.monotonic() + WARM_UP_S
    while time.monotonic() < deadline:
        idle = (await server.astats())["pool"]["idle"]
        if all(int(idle.get(language, 0)) >= pool for language in ("python", "javascript")):
            return
        await asyncio.sleep(0.2)


@contextlib.contextmanager
def _server_key(server_key: str) -> Iterator[None]:
    """E2B_API_KEY is the local server's key while the run goes on: the backend sends it
    to the server its `api_url` names, and never holds the cloud's key meanwhile."""
    key = os.environ.get("E2B_API_KEY")
    os.environ["E2B_API_KEY"] = server_key
    try:
        yield
    finally:
        if key is None:
            os.environ.pop("E2B_API_KEY", None)
        else:
            os.environ["E2B_API_KEY"] = key


def _flags(url: str, concurrency: int) -> FlagFile:
    return parse_flags(
        f"""schema_version = 1
[environments.{ENVIRONMENT}]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "complete"

[environments.{ENVIRONMENT}.backends.e2b]
api_url = "{url}"
sandbox_url = "{url}"
max_concurrency = {concurrency}
embedded_server = "never"
""",
        source="<turnout chaos>",
    )


def _kind_of(fault: dict[str, Any]) -> str:
    """The spec kind of a pending server fault."""
    if fault.get("kind") == "create_error":
        return f"create_{fault.get('status')}"
    return str(fault.get("kind"))


def _rss_mb(name: str) -> float:
    """VmRSS (current) or VmHWM (peak) of this process in MB; 0 where /proc is missing."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{name}:"):
                return int(line.split()[1]) / 1024
    return 0.0
