"""The `startup` section of `turnout bench`: what a process pays before and around its first
execution, in CPU time (user + system of the child and everything it waited for), which a
loaded machine inflates far less than wall time.

Measured, interleaved round by round after one warm-up round:

- `python -c pass` and `python -c 'import turnout'` (the virtualenv's interpreter);
- the node's own interpreter alone (`<base python> -I -c 1`, what local-subprocess starts)
  and `turnout run` of a trivial Python node on local-subprocess, whose difference is what
  turnout adds on top of the interpreter the node runs in;
- `turnout backends`;
- the floor: a process that imports asyncio and pydantic and builds one model, what the
  run path cannot do without (the backends run on asyncio; flags, node config and envelope
  are pydantic models); what `turnout run` adds beyond it is turnout's own share;
- in a fresh process, whether `import turnout`, plugin discovery and describing the
  backends import the E2B SDK;
- the slowest imports of `turnout run` (`python -X importtime`), by their own time.

Bounds: `import turnout` at most 150 ms CPU; `turnout run` at most 250 ms CPU on top of the
node's interpreter; no E2B SDK module loaded by listing backends.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turnout_devtools.bench.harness import BENCH_ENV, BenchContext, run_child
from turnout_devtools.bench.stats import Bound, ratio, summarize

if TYPE_CHECKING:
    from turnout_devtools.bench.sections import SectionResult

__all__ = ["IMPORT_BOUND_MS", "RUN_BOUND_MS", "slowest_imports", "startup"]

IMPORT_BOUND_MS = 150.0
RUN_BOUND_MS = 250.0
SLOWEST = 12
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")


def wall_and_cpu_ms(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the child and what it waited for) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def turnout_command() -> list[str]:
    """The `turnout` script next to this interpreter, else `python -m turnout.cli`."""
    script = Path(sys.executable).parent / "turnout"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "turnout.cli"]


def node_interpreter() -> str:
    """The interpreter local-subprocess runs Python nodes with by default: the base
    interpreter turnout runs on (not the virtualenv's)."""
    return getattr(sys, "_base_executable", None) or sys.executable


RUN_ARGUMENTS = ["run", "--language", "python", "--code", "return 1"]
RUN_ARGUMENTS += ["--backend", "local-subprocess", "--env", BENCH_ENV, "--json"]


FLOOR_CODE = "import asyncio, pydantic\nclass Floor(pydantic.BaseModel):\n    value: int"
"""The floor of the run path: asyncio, pydantic and its first model (no turnout)."""


def commands() -> dict[str, list[str]]:
    """What the section runs, by figure name."""
    return {
        "python_pass": [sys.executable, "-c", "pass"],
        "import_turnout": [sys.executable, "-c", "import turnout"],
        "floor": [sys.executable, "-c", FLOOR_CODE],
        "node_interpreter": [node_interpreter(), "-I", "-c", "1"],
        "turnout_run": [*turnout_command(), *RUN_ARGUMENTS],
        "turnout_backends": [*turnout_command(), "backends"],
    }


def slowest_imports(importtime: str, count: int = SLOWEST) -> list[dict[str, Any]]:
    """The `count` modules with the most time of their own in `python -X importtime`
    output (microseconds; a module's own time leaves out the modules it imported)."""
    found = []
    for line in importtime.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            own, cumulative, _, name = match.groups()
            found.append({"module": name, "self_us": int(own), "cumulative_us": int(cumulative)})
    found.sort(key=lambda entry: entry["self_us"], reverse=True)
    return found[:count]


def _importtime_of_run(env: dict[str, str]) -> str:
    argv = [sys.executable, "-X", "importtime", "-m", "turnout.cli", *RUN_ARGUMENTS]
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return completed.stderr


async def startup(context: BenchContext) -> SectionResult:
    """See the module docstring."""
    from turnout_devtools.bench.sections import SectionResult

    env = context.child_environment()
    argvs = commands()
    walls: dict[str, list[float]] = {name: [] for name in argvs}
    cpus: dict[str, list[float]] = {name: [] for name in argvs}
    count = context.count(10, 3)
    for index in range(count + 1):
        order = list(argvs) if index % 2 == 0 else list(reversed(argvs))
        for name in order:
            wall_ms, cpu_ms = await asyncio.to_thread(wall_and_cpu_ms, argvs[name], env)
            if index > 0:  # the first round warms the page cache
                walls[name].append(wall_ms)
                cpus[name].append(cpu_ms)
    imports = await asyncio.to_thread(run_child, context, "imports", {})
    importtime = await asyncio.to_thread(_importtime_of_run, env)
    figures: dict[str, Any] = {name: summarize(values).to_dict() for name, values in walls.items()}
    figures["cpu_ms"] = {name: summarize(values).to_dict() for name, values in cpus.items()}
    cpu = {name: summarize(values).p50 for name, values in cpus.items()}
    wall = {name: summarize(values).p50 for name, values in walls.items()}
    for name, short in (("turnout_backends", "backends"), ("import_turnout", "import")):
        figures[f"ratio_{short}_vs_python_p50"] = ratio(wall[name], wall["python_pass"])
        figures[f"cpu_ratio_{short}_vs_python_p50"] = ratio(cpu[name], cpu["python_pass"])
    run_added = round(cpu["turnout_run"] - cpu["node_interpreter"], 1)
    figures["cpu_run_added_ms"] = run_added
    figures["cpu_floor_added_ms"] = round(cpu["floor"] - cpu["python_pass"], 1)
    figures["cpu_run_added_beyond_floor_ms"] = round(run_added - figures["cpu_floor_added_ms"], 1)
    figures["sdk_imports"] = imports
    figures["slowest_imports_of_run"] = slowest_imports(importtime)
    figures["baseline"] = f"{sys.executable} -c pass"
    figures["run_command"] = " ".join(["turnout", *RUN_ARGUMENTS])
    loaded = sorted(
        set(imports["sdk_after_import_turnout"])
        | set(imports["sdk_after_plugin_discovery"])
        | set(imports["sdk_after_describe_backends"])
    )
    bounds = [
        Bound(
            "import turnout, CPU p50",
            "",
            round(cpu["import_turnout"], 1),
            IMPORT_BOUND_MS,
            True,
            "ms",
        ),
        Bound(
            "turnout run (local-subprocess, Python) on top of the node's interpreter, CPU p50",
            "",
            run_added,
            RUN_BOUND_MS,
            True,
            "ms",
        ),
        Bound(
            "E2B SDK modules loaded by import turnout, discovery and `turnout backends`",
            "",
            float(len(loaded)),
            0.0,
            True,
            "modules",
        ),
    ]
    return SectionResult(figures, bounds)
