"""The local-subprocess section of `turnout bench`: what turnout adds to a bare interpreter.

A trivial node through `execute_code_node` is timed against starting the same interpreter
directly (`python -I -c 1`, `node -e 1`), interleaved so that drift on a shared machine hits
both sides alike. The ratio of their medians is the overhead bound docs/performance.md
reports.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable

from turnout_devtools.bench.harness import (
    BENCH_ENV,
    BenchContext,
    node_path,
)
from turnout_devtools.bench.sections import (
    LOCAL,
    SectionResult,
    elapsed_ms,
    interleaved,
)
from turnout_devtools.bench.stats import Bound, ratio, summarize

__all__ = ["local_overhead"]


def _raw_argv(language: str) -> list[str] | None:
    if language == "python":
        # The interpreter local-subprocess uses by default: the base interpreter turnout
        # runs on (not a version-manager shim, not the virtualenv).
        interpreter = getattr(sys, "_base_executable", None) or sys.executable
        return [interpreter, "-I", "-c", "1"]
    node = node_path()
    return None if node is None else [node, "-e", "1"]


def local_overhead(language: str) -> Callable[[BenchContext], Awaitable[SectionResult]]:
    async def section(context: BenchContext) -> SectionResult:
        """A trivial node through execute_code_node against the bare interpreter."""
        from turnout import execute_code_node

        argv = _raw_argv(language)
        if argv is None:
            return SectionResult(skipped="node is not on PATH")
        node = {"language": language, "code": "return 1"}

        async def through_turnout() -> float:
            return await elapsed_ms(
                lambda: execute_code_node(node, {}, backend=LOCAL, env=BENCH_ENV)
            )

        async def raw() -> float:
            async def once() -> None:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
                await process.communicate()

            return await elapsed_ms(once)

        count = context.count(60, 15)
        samples = await interleaved(count, min(3, count), {"turnout": through_turnout, "raw": raw})
        turnout, baseline = summarize(samples["turnout"]), summarize(samples["raw"])
        value = ratio(turnout.p50, baseline.p50)
        figures = {
            "turnout_ms": turnout.to_dict(),
            "raw_ms": baseline.to_dict(),
            "raw_command": " ".join(argv),
            "ratio_p50": value,
            "ratio_p95": ratio(turnout.p95, baseline.p95),
        }
        bound = Bound(f"local-subprocess {language} overhead (p50 ratio)", "", value, 1.10, True)
        return SectionResult(figures, [bound])

    return section
