"""Realistic bench and chaos report data for the developer tools' HTML tests and the docs
screenshots: a chaos report assembled from execution records over the real seeded plan,
and the recorded bench run.
"""

from __future__ import annotations

import json
import random
from typing import Any

from turnout_devtools.chaos.report import ChaosReport, ExecutionRecord
from turnout_devtools.chaos.spec import FaultSpec, plan

from ...reports.samples import ROOT

BENCH_RESULTS = ROOT / "benchmarks" / "results"


def chaos_report(executions: int = 200, seed: int = 3) -> ChaosReport:
    """A chaos run's report over the real seeded plan, with the outcomes such a run
    shows: faults that fail their execution with a retryable infrastructure error,
    user errors and timeouts as their workloads ask, latencies of a loaded server."""
    spec = FaultSpec.parse(
        "create_429=3%,create_503=3%,drop_stream=2%,kill_mid_run=1%,slow_kill=1%"
    )
    rng = random.Random(seed)
    records = []
    for planned in plan(executions, spec, seed):
        wall = rng.lognormvariate(6.3, 0.35)
        fields: dict[str, Any] = {"outcome": "ok"}
        if planned.fault in ("create_429", "create_503") and rng.random() < 0.3:
            fields = {
                "outcome": "error",
                "error_type": "InfrastructureError",
                "retryable": True,
                "started": False,
                "message": "sandbox create failed: 503 after 3 tries",
            }
        elif planned.fault in ("drop_stream", "kill_mid_run"):
            fields = {
                "outcome": "error",
                "error_type": "InfrastructureError",
                "retryable": True,
                "started": True,
                "message": "the sandbox went away during the run",
            }
        elif planned.workload == "user_error":
            fields = {
                "outcome": "error",
                "error_type": "CodeExecutionError",
                "error_kind": "runtime",
                "retryable": False,
                "message": "ValueError: chaos",
            }
        elif planned.workload == "timeout":
            wall = planned.timeout_ms + rng.uniform(150, 450)
            fields = {
                "outcome": "error",
                "error_type": "CodeExecutionError",
                "error_kind": "timeout",
                "retryable": False,
                "message": "timed out after 1500 ms",
            }
        records.append(
            ExecutionRecord(
                index=planned.index,
                language=planned.language,
                workload=planned.workload,
                fault=planned.fault,
                timeout_ms=planned.timeout_ms,
                wall_ms=round(wall, 1),
                code_start_ms=round(wall * 0.6, 1),
                **fields,
            )
        )
    fired = {kind: sum(1 for r in records if r.fault == kind) for kind in spec.rates}
    return ChaosReport(
        executions=executions,
        concurrency=20,
        seed=seed,
        spec=spec,
        max_sandboxes=20,
        server="local E2B-compatible server at http://127.0.0.1:41001",
        records=records,
        duration_s=48.3,
        create_retries=9,
        peak_live_sandboxes=20,
        faults_queued=fired,
        faults_fired=fired,
        counters={"sandboxes_created": executions + 9, "sandboxes_killed": executions + 9},
        rss_start_mb=61.0,
        rss_peak_mb=88.0,
        rss_end_mb=70.0,
    )


def bench_report() -> dict[str, Any]:
    """The newest recorded `turnout bench --json` run (docs/performance.md's table)."""
    newest = sorted(BENCH_RESULTS.glob("*.json"))[-1]
    data: dict[str, Any] = json.loads(newest.read_text(encoding="utf-8"))
    return data
