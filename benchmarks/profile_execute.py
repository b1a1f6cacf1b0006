"""Profile `execute_code_node` on one backend with cProfile (the standard library's).

    python benchmarks/profile_execute.py --backend e2b --language python -n 40

For e2b, a local E2B-compatible server is started for the run (E2B's cloud is never used).
Prints the calls under turnout's own code and the overall top entries by cumulative time;
executions run one at a time after a warm-up, with logging rendered as JSON to nowhere (the
work production logging does). How this was used, and what it found: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
import warnings
from pathlib import Path

from turnout import execute_code_node
from turnout.bench.harness import BENCH_ENV, E2B_ENV, BenchContext, LocalServer
from turnout.logging import configure_logging


async def profile(backend: str, language: str, count: int) -> cProfile.Profile:
    node = {"language": language, "code": "return 1"}
    env = E2B_ENV if backend == "e2b" else BENCH_ENV
    for _ in range(3):
        await execute_code_node(node, {}, backend=backend, env=env)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(count):
        await execute_code_node(node, {}, backend=backend, env=env)
    profiler.disable()
    elapsed = (time.perf_counter() - started) * 1000 / count
    sys.stdout.write(f"{backend} {language}: {elapsed:.1f} ms per execution (wall)\n")
    return profiler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="e2b", choices=("e2b", "local-subprocess"))
    parser.add_argument("--language", default="python", choices=("python", "javascript"))
    parser.add_argument("-n", type=int, default=40, help="profiled executions")
    parser.add_argument("--top", type=int, default=25)
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    context = BenchContext()
    try:
        if arguments.backend == "e2b":
            context.server = LocalServer({"python": 2, "javascript": 2})
        context.write_flags()
        with context.process_environment(), open(os.devnull, "w") as sink:
            configure_logging(BENCH_ENV, json_lines=True, stream=sink)
            profiler = asyncio.run(profile(arguments.backend, arguments.language, arguments.n))
    finally:
        context.close()
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    root = str(Path(__file__).resolve().parents[1])
    sys.stdout.write("\n-- turnout's own code --\n")
    stats.print_stats(f"{root}.*(src/turnout|turnout_e2b|turnout_local)", arguments.top)
    sys.stdout.write("\n-- everything --\n")
    stats.print_stats(arguments.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
