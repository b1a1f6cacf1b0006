"""The memory sections of `turnout bench`: what the caller's process holds.

Each measurement runs in a child process of its own (`run_child`), so its peak RSS is the
execution's and nothing else's: `payload` sends 10 MB in and out through each backend and
judges the peak growth against the payload; `sequential` runs many local-subprocess
executions in one process and judges whether its RSS grows.
"""

from __future__ import annotations

import asyncio
from typing import Any

from turnout_devtools.bench.e2b_sections import quiet
from turnout_devtools.bench.harness import (
    BENCH_ENV,
    E2B_ENV,
    BenchContext,
    run_child,
)
from turnout_devtools.bench.sections import (
    E2B,
    LOCAL,
    MIB,
    PAYLOAD_BYTES,
    SectionResult,
)
from turnout_devtools.bench.stats import Bound, ratio, summarize

__all__ = ["payload", "sequential"]


async def payload(context: BenchContext) -> SectionResult:
    """10 MB in and 10 MB out through each backend: time and peak RSS growth of the caller."""
    figures: dict[str, Any] = {}
    bounds: list[Bound] = []
    backends = [LOCAL] + ([E2B] if context.server is not None else [])
    repeats = context.count(3, 1)
    for backend in backends:
        for direction in ("in", "out"):
            runs = []
            for _ in range(repeats):
                if context.server is not None:
                    await quiet(context)
                arguments = {
                    "backend": backend,
                    "env": E2B_ENV if backend == E2B else BENCH_ENV,
                    "direction": direction,
                    "bytes": PAYLOAD_BYTES,
                }
                runs.append(await asyncio.to_thread(run_child, context, "payload", arguments))
            growth = summarize([float(r["peak_growth_bytes"]) for r in runs])
            elapsed = summarize([float(r["elapsed_ms"]) for r in runs])
            value = ratio(growth.p50, PAYLOAD_BYTES)
            failed = [r for r in runs if "exit_status" in r]
            if failed:
                context.notes.append(
                    f"payload {backend} {direction}: the child printed its measurement, then "
                    f"exited with status {failed[0]['exit_status']} "
                    f"(stderr: {failed[0]['exit_stderr_tail']!r})"
                )
            figures[f"{backend}_{direction}"] = {
                "payload_bytes": PAYLOAD_BYTES,
                "elapsed_ms": elapsed.to_dict(),
                "peak_growth_mib_p50": round(growth.p50 / MIB, 2),
                "peak_growth_ratio_p50": value,
                "peak_method": runs[0]["peak_method"],
                "correct": all(r["correct"] for r in runs),
            }
            bounds.append(
                Bound(
                    f"{backend} 10 MB {direction}: peak RSS growth / payload",
                    "",
                    value if all(r["correct"] for r in runs) else None,
                    4.0,
                    True,
                )
            )
    return SectionResult(figures, bounds)


async def sequential(context: BenchContext) -> SectionResult:
    """Many sequential local-subprocess executions in one process: does its RSS grow?"""
    count = context.count(1000, 100)
    arguments = {"backend": LOCAL, "count": count, "warmup": min(20, max(2, count // 10))}
    result = await asyncio.to_thread(run_child, context, "sequential", arguments, 1800.0)
    growth_mib = result["rss_growth_bytes"] / MIB
    figures = {
        "executions": count,
        "per_execution_ms": result["per_execution_ms"],
        "rss_start_mib": round(result["rss_start_bytes"] / MIB, 2),
        "rss_end_mib": round(result["rss_end_bytes"] / MIB, 2),
        "rss_growth_mib": round(growth_mib, 2),
        "rss_checkpoints_mib": [round(b / MIB, 2) for b in result["rss_checkpoints_bytes"]],
    }
    bound = Bound(
        f"RSS growth over {count} sequential executions",
        "",
        round(growth_mib, 2),
        10.0,
        True,
        "MiB",
    )
    return SectionResult(figures, [bound])
