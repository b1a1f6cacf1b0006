"""Profile `execute_code_node` on one backend with pyinstrument (a development dependency).

    .venv/bin/python benchmarks/profile_execute.py --backend e2b --language python -n 30

For e2b, a local E2B-compatible server is started for the run (E2B's cloud is never used).
Executions run one at a time after a warm-up, with logging rendered as JSON to nowhere (the
work production logging does); pyinstrument samples the whole process, so time spent
waiting for the child process or the server shows as the awaits that wait for it, and
turnout's own work shows beside it. Prints the call tree (frames under 1% hidden). How it
was used, and what it found: docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import warnings

from pyinstrument import Profiler
from turnout_devtools.bench.harness import BENCH_ENV, E2B_ENV, BenchContext

from turnout import execute_code_node
from turnout.logging import configure_logging


async def profile(backend: str, language: str, count: int, profiler: Profiler) -> float:
    node = {"language": language, "code": "return 1"}
    env = E2B_ENV if backend == "e2b" else BENCH_ENV
    for _ in range(3):
        await execute_code_node(node, {}, backend=backend, env=env)
    started = time.perf_counter()
    profiler.start()
    for _ in range(count):
        await execute_code_node(node, {}, backend=backend, env=env)
    profiler.stop()
    return (time.perf_counter() - started) * 1000 / count


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", default="e2b", choices=("e2b", "local-subprocess"))
    parser.add_argument("--language", default="python", choices=("python", "javascript"))
    parser.add_argument("-n", type=int, default=30, help="profiled executions")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    context = BenchContext()
    profiler = Profiler(interval=0.0005, async_mode="enabled")
    try:
        if arguments.backend == "e2b":
            context.start_server()
        context.write_flags()
        with context.process_environment(), open(os.devnull, "w") as sink:
            configure_logging(BENCH_ENV, json_lines=True, stream=sink)
            per_execution = asyncio.run(
                profile(arguments.backend, arguments.language, arguments.n, profiler)
            )
    finally:
        context.close()
    sys.stdout.write(
        f"{arguments.backend} {arguments.language}: {per_execution:.1f} ms per execution\n"
    )
    sys.stdout.write(profiler.output_text(unicode=False, color=False, show_all=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
