"""The `temporal` section of `turnout bench`: what running a code node as a Temporal activity
costs over the same call on `turnout.Client`, with Temporal's own round trip as the baseline.

Everything runs in the bench's process, against servers on this machine: Temporal's test
server (`TemporalTestServer`, started on a free loopback port and stopped at the end), the
bench's local E2B-compatible server for the e2b backend (`context.server`, when the e2b
plugin is installed), one `turnout.Client` and one Temporal worker serving a one-activity
workflow, the `execute_code_node` activity over that client (`CodeNodeActivity`, what
`turnout worker` runs) and a no-op activity. So the figures compare paths, not processes
or networks.

Per backend, three sides are measured interleaved (A, B, C, C, B, A, ...) after warm-ups:

- `client`: `Client.execute` of a node that returns 1, then `Envelope.to_dict()`;
- `temporal`: one workflow, started by a Temporal client and awaited, that runs
  `execute_code_node` with the same node (the backend chosen by the tenant id, as a
  platform's workflow would give it);
- `noop`: the same workflow running the no-op activity: the test server's own round trip
  (start the workflow, two workflow tasks, one activity task, the result).

Reported: p50 and p95 of each, the p50 ratio temporal / client (the issue names no bound,
so it is a figure, not a bound), and what Temporal adds at p50 (`added_p50_ms`), to be read
beside the no-op's p50. The
e2b executions each wait for a quiet server first, as the built-in e2b sections do.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client as TemporalClient
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from turnout_temporal.activity import CodeNodeActivity
from turnout_temporal.defaults import ACTIVITY_NAME
from turnout_temporal.testing import TemporalTestServer, test_server_binary
from turnout_temporal.worker import WorkerSettings, connect

import turnout
from turnout_devtools.bench.harness import BenchContext, settle
from turnout_devtools.bench.sections import SectionResult
from turnout_devtools.bench.stats import ratio, summarize

__all__ = ["ENVIRONMENT", "measure"]

ENVIRONMENT = "bench-temporal"
TASK_QUEUE = "turnout-bench"
NOOP = "turnout_bench_noop"
NODE = {"language": "python", "code": "return 1"}
LOCAL = "local-subprocess"
E2B = "e2b"
TENANTS = {LOCAL: "on-local", E2B: "on-e2b"}
"""The tenant id each backend's calls give; the section's flags send `on-e2b` to e2b."""


@activity.defn(name=NOOP)
async def noop(payload: Any) -> Any:
    """The baseline: an activity that returns its input."""
    return payload


@workflow.defn(name="TurnoutBenchOneActivity")
class OneActivity:
    """Runs `call["activity"]` once with `call["input"]`, no retries."""

    @workflow.run
    async def run(self, call: dict[str, Any]) -> Any:
        return await workflow.execute_activity(
            call["activity"],
            call["input"],
            start_to_close_timeout=timedelta(seconds=120),
        )


def section_flags(e2b_url: str | None) -> dict[str, Any]:
    """local-subprocess answers (stage `off`), except the tenant `on-e2b`, which runs on
    e2b at the bench's local server when there is one."""
    settings: dict[str, Any] = {"legacy_backend": LOCAL, "stage": "off"}
    if e2b_url is not None:
        settings |= {
            "target_backend": E2B,
            "overrides": {"tenants": {TENANTS[E2B]: "rampdown"}},
            "backends": {
                E2B: {"api_url": e2b_url, "sandbox_url": e2b_url, "embedded_server": "never"}
            },
        }
    return {"schema_version": 1, "environments": {ENVIRONMENT: settings}}


async def _ms(action: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await action()
    return (time.perf_counter() - started) * 1000


async def _interleaved(
    count: int,
    warmup: int,
    sides: dict[str, Callable[[], Awaitable[Any]]],
    before_each: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, list[float]]:
    """Milliseconds of `count` calls per side, alternating the order, after `warmup` rounds."""
    names = list(sides)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(warmup + count):
        for name in names if index % 2 == 0 else names[::-1]:
            if before_each is not None:
                await before_each()
            elapsed = await _ms(sides[name])
            if index >= warmup:
                samples[name].append(elapsed)
    return samples


async def measure(context: BenchContext) -> SectionResult:
    """The section (module docstring); skipped, with the reason, without the test server."""
    try:
        test_server_binary()
    except FileNotFoundError as exc:
        return SectionResult(skipped=str(exc))
    server = TemporalTestServer()
    await asyncio.to_thread(server.start)
    # The test server does not advertise every capability a production server has, and
    # the SDK's core warns about it once per worker: noise on the bench's stderr.
    core_log = logging.getLogger("temporalio.core")
    level = core_log.level
    core_log.setLevel(logging.ERROR)
    try:
        temporal = await connect(WorkerSettings(address=server.address))
        e2b_url = context.server.url if context.server is not None else None
        async with turnout.Client(section_flags(e2b_url), ENVIRONMENT) as client:
            return await _measure(context, temporal, client)
    finally:
        core_log.setLevel(level)
        await asyncio.to_thread(server.__exit__, None, None, None)


async def _measure(
    context: BenchContext, temporal: TemporalClient, client: turnout.Client
) -> SectionResult:
    code_node = CodeNodeActivity(client)
    worker = Worker(
        temporal,
        task_queue=TASK_QUEUE,
        workflows=[OneActivity],
        activities=[code_node.execute_code_node, noop],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )

    async def through_temporal(name: str, payload: Any) -> Any:
        return await temporal.execute_workflow(
            OneActivity.run,
            {"activity": name, "input": payload},
            id=f"turnout-bench-{uuid.uuid4().hex[:12]}",
            task_queue=TASK_QUEUE,
        )

    async def quiet() -> None:
        if context.server is not None and not await settle(context.server_quiet, 60.0):
            context.settle_timeouts += 1

    count = context.count(40, 10)
    warmup = min(3, count)
    backends = [LOCAL] + ([E2B] if context.server is not None else [])
    figures: dict[str, Any] = {"calls_per_side": count, "warmups": warmup}
    noop_samples: list[float] = []
    async with worker:
        for backend in backends:
            tenant = TENANTS[backend]
            payload = {"node": NODE, "context": {}, "tenantId": tenant}

            async def library(tenant: str = tenant) -> dict[str, Any]:
                return (await client.execute(NODE, {}, tenant_id=tenant)).to_dict()

            async def activity_call(payload: dict[str, Any] = payload) -> Any:
                return await through_temporal(ACTIVITY_NAME, payload)

            sides: dict[str, Callable[[], Awaitable[Any]]] = {
                "client": library,
                "temporal": activity_call,
            }
            if backend == LOCAL:  # the baseline once, beside the cheaper backend
                sides["noop"] = lambda: through_temporal(NOOP, {})
            samples = await _interleaved(
                count, warmup, sides, before_each=quiet if backend == E2B else None
            )
            noop_samples += samples.pop("noop", [])
            on_client, on_temporal = summarize(samples["client"]), summarize(samples["temporal"])
            figures[backend] = {
                "client_ms": on_client.to_dict(),
                "temporal_ms": on_temporal.to_dict(),
                "ratio_p50": ratio(on_temporal.p50, on_client.p50),
                "ratio_p95": ratio(on_temporal.p95, on_client.p95),
                "added_p50_ms": round(on_temporal.p50 - on_client.p50, 3),
            }
    figures["noop_activity_ms"] = summarize(noop_samples).to_dict()
    if context.server is None:
        figures["e2b"] = "not measured: the e2b plugin (its local server) is not installed"
    return SectionResult(figures)
