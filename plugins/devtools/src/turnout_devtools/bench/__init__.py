"""`turnout bench`: turnout's overhead, the warm pool, concurrency, memory and start-up,
measured side by side in one run and reported as ratios (see docs/performance.md).

`run_bench()` runs the sections (all, or `only` some), starts a local E2B-compatible server
for the e2b ones, and returns one JSON-ready dict: every figure, every ratio, and each
bound (the limits in docs/performance.md) with whether it was met. Nothing here asserts:
a missed bound is data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from turnout_devtools.bench.catalog import SECTIONS, Section, available_sections
from turnout_devtools.bench.e2b_sections import NoServerError
from turnout_devtools.bench.harness import (
    BENCH_ENV,
    E2B_ENV,
    POOL_ENV,
    BenchContext,
    e2b_available,
    settle,
)
from turnout_devtools.bench.sections import SectionResult
from turnout_devtools.bench.stats import Bound

__all__ = ["SECTIONS", "available_sections", "run_bench"]

SCHEMA = 1


def _needs_server(sections: dict[str, tuple[Section, bool]], names: Iterable[str]) -> bool:
    return any(sections[name][1] for name in names)


def _machine() -> dict[str, Any]:
    load: list[float] | None = None
    with contextlib.suppress(OSError, AttributeError):
        load = [round(value, 2) for value in os.getloadavg()]
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average": load,
    }


async def _run(
    context: BenchContext,
    sections: dict[str, tuple[Section, bool]],
    names: list[str],
    progress: Callable[[str], None],
) -> dict[str, tuple[SectionResult, float]]:
    from turnout.codenode import default_engine

    results: dict[str, tuple[SectionResult, float]] = {}
    try:
        for name in names:
            section, uses_server = sections[name]
            if uses_server and context.server is None and e2b_available():
                await _start_server(context, progress)
            progress(f"bench: {name} ...")
            started = time.perf_counter()
            try:
                result = await section(context)
            except NoServerError as exc:
                result = SectionResult(skipped=str(exc))
            except Exception as exc:  # a broken section must not lose the others
                result = SectionResult(skipped=f"failed: {type(exc).__name__}: {exc}")
            elapsed = time.perf_counter() - started
            result.bounds = [replace(bound, section=name) for bound in result.bounds]
            results[name] = (result, elapsed)
            progress(f"bench: {name} done in {elapsed:.1f} s")
    finally:
        environments = [BENCH_ENV] + ([E2B_ENV, POOL_ENV] if context.server is not None else [])
        for environment in environments:
            with contextlib.suppress(Exception):
                await default_engine(environment).aclose()
    return results


async def _start_server(context: BenchContext, progress: Callable[[str], None]) -> None:
    """Start the local E2B-compatible server, add the e2b environments, wait for kernels."""
    progress("bench: starting the local E2B-compatible server ...")
    await asyncio.to_thread(context.start_server)
    # Measure on a server that has finished pre-starting its kernels (a smoke run with
    # --iterations waits for one per language only).
    kernels = None if context.iterations is None else 1
    await settle(lambda: context.server_quiet(kernels=kernels), timeout_s=180.0)


def run_bench(
    *,
    quick: bool = False,
    only: Iterable[str] | None = None,
    iterations: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the bench and return its report (see the module docstring and docs/performance.md).

    `only` restricts it to some sections (names in `available_sections()`: the built-in
    ones and those plugins add); `iterations` overrides
    every repetition count (a smoke test uses 1 or 2). Raises ValueError for an unknown
    section name.
    """
    from turnout.log_output import preserved
    from turnout.logging import configure_logging

    sections = available_sections()
    names = list(sections) if not only else list(dict.fromkeys(only))
    unknown = [name for name in names if name not in sections]
    if unknown:
        raise ValueError(f"unknown bench section(s): {', '.join(unknown)}")
    report_progress = progress or (lambda message: None)
    context = BenchContext(quick=quick, iterations=iterations)
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        if _needs_server(sections, names) and not e2b_available():
            context.notes.append("turnout-e2b is not installed: e2b measurements skipped")
        context.write_flags()
        with (
            preserved(),
            context.process_environment(),
            warnings.catch_warnings(),
            open(os.devnull, "w") as sink,
        ):
            warnings.simplefilter("ignore")
            # JSON lines to nowhere: the logging work of production, without the output.
            configure_logging(BENCH_ENV, json_lines=True, stream=sink)
            results = asyncio.run(_run(context, sections, names, report_progress))
        if context.settle_timeouts:
            context.notes.append(
                f"{context.settle_timeouts} wait(s) for a quiet server gave up after "
                "a minute: some e2b measurements may overlap kernel starts or kills"
            )
    finally:
        context.close()
    bounds: list[Bound] = [bound for result, _ in results.values() for bound in result.bounds]
    mode = "custom" if iterations is not None else ("quick" if quick else "full")
    return {
        "schema": SCHEMA,
        "mode": mode,
        "started_at": started_at.isoformat(),
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": _machine(),
        "sections": {
            name: {
                "duration_s": round(elapsed, 1),
                "skipped": result.skipped,
                "figures": result.figures,
            }
            for name, (result, elapsed) in results.items()
        },
        "bounds": [bound.to_dict() for bound in bounds],
        "all_bounds_met": all(bound.met for bound in bounds),
        "notes": context.notes,
    }
