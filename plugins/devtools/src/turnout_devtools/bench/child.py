"""Measurements that need a process of their own:
`python -m turnout_devtools.bench.child TASK JSON`.

Why a child per measurement: peak memory is a high-water mark of a whole process, and a
process that already ran other measurements (or the bench itself) would hide the peak of
the one being taken. Each task prints one JSON object on its last stdout line.

How peak RSS is measured (Linux): after warming up (imports, engine, backend, one smaller
execution of the same kind), the child runs `gc.collect()`, resets the kernel's peak
resident set (`VmHWM`) by writing `5` to `/proc/self/clear_refs`, reads `VmRSS`, runs the
measured execution, and reads `VmHWM` again: growth = peak after - resident before, exact
whatever the duration of the spike (no sampling). Where `clear_refs` is not writable the
child falls back to `ru_maxrss`, which cannot be reset (`peak_method` says which).

Tasks:
    payload     {"backend", "env", "direction": "in"|"out", "bytes"}
    sequential  {"backend", "count", "warmup"}
    imports     {}  which of the E2B SDK's modules importing turnout (and more) loads
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import sys
import time
import warnings
from typing import Any

__all__ = ["main"]

SDK_MODULES = ("e2b", "e2b_code_interpreter")


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _rss_bytes() -> int:
    kib = _status_kib("VmRSS")
    if kib is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return kib * 1024


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def _peak_bytes(reset: bool) -> int:
    if reset:
        kib = _status_kib("VmHWM")
        if kib is not None:
            return kib * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _quiet() -> None:
    from turnout.logging import configure_logging

    warnings.simplefilter("ignore")
    configure_logging("bench", json_lines=True, stream=open(os.devnull, "w"))  # noqa: SIM115


async def _payload(backend: str, env: str, direction: str, size: int) -> dict[str, Any]:
    from turnout import execute_code_node
    from turnout.codenode import default_engine

    def node_and_context(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
        if direction == "in":
            node = {"language": "python", "code": "return len(big)", "inputVariables": ["big"]}
            return node, {"big": "y" * n}
        return {"language": "python", "code": f"return 'x' * {n}"}, {}

    warm_node, warm_context = node_and_context(512 * 1024)
    for _ in range(2):
        await execute_code_node(warm_node, warm_context, backend=backend, env=env)
    node, context = node_and_context(size)
    del warm_context
    gc.collect()
    reset = _reset_peak()
    before = _rss_bytes()
    started = time.perf_counter()
    envelope = await execute_code_node(node, context, backend=backend, env=env)
    elapsed = time.perf_counter() - started
    peak = _peak_bytes(reset)
    output = envelope["output"]
    correct = output == size if direction == "in" else len(output) == size
    del envelope, output
    await default_engine(env).aclose()
    return {
        "backend": backend,
        "direction": direction,
        "bytes": size,
        "elapsed_ms": round(elapsed * 1000, 3),
        "rss_before_bytes": before,
        "peak_bytes": peak,
        "peak_growth_bytes": max(0, peak - before),
        "peak_method": "VmHWM reset through /proc/self/clear_refs" if reset else "ru_maxrss",
        "correct": correct,
    }


async def _sequential(backend: str, count: int, warmup: int) -> dict[str, Any]:
    from turnout import execute_code_node
    from turnout.codenode import default_engine

    node = {"language": "python", "code": "return {'n': inputs['n'] * 2}", "inputVariables": ["n"]}
    for index in range(warmup):
        await execute_code_node(node, {"n": index}, backend=backend)
    gc.collect()
    start = _rss_bytes()
    checkpoints: list[int] = []
    step = max(1, count // 4)
    started = time.perf_counter()
    for index in range(count):
        envelope = await execute_code_node(node, {"n": index}, backend=backend)
        if envelope["output"] != {"n": index * 2}:
            raise RuntimeError(f"wrong output at execution {index}: {envelope['output']!r}")
        if (index + 1) % step == 0:
            gc.collect()
            checkpoints.append(_rss_bytes())
    elapsed = time.perf_counter() - started
    gc.collect()
    end = _rss_bytes()
    await default_engine().aclose()
    return {
        "backend": backend,
        "count": count,
        "warmup": warmup,
        "elapsed_s": round(elapsed, 3),
        "per_execution_ms": round(elapsed * 1000 / count, 3),
        "rss_start_bytes": start,
        "rss_end_bytes": end,
        "rss_growth_bytes": end - start,
        "rss_checkpoints_bytes": checkpoints,
    }


def _imports() -> dict[str, Any]:
    def loaded() -> list[str]:
        return sorted(name for name in SDK_MODULES if name in sys.modules)

    import turnout  # noqa: F401

    after_import = loaded()
    from turnout.registry import default_registry

    default_registry()
    after_discovery = loaded()
    from turnout.engine import Engine

    Engine().describe_backends()
    after_backends = loaded()
    return {
        "sdk_after_import_turnout": after_import,
        "sdk_after_plugin_discovery": after_discovery,
        "sdk_after_describe_backends": after_backends,
        "imports_sdk": bool(after_import or after_discovery or after_backends),
    }


def main(argv: list[str] | None = None) -> int:
    task, raw = (argv if argv is not None else sys.argv[1:])[:2]
    arguments = json.loads(raw)
    if task == "imports":
        warnings.simplefilter("ignore")  # logging stays as it is: importing it is measured
        result = _imports()
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    _quiet()
    if task == "payload":
        result = asyncio.run(
            _payload(
                arguments["backend"],
                arguments["env"],
                arguments["direction"],
                int(arguments["bytes"]),
            )
        )
    elif task == "sequential":
        result = asyncio.run(
            _sequential(arguments["backend"], int(arguments["count"]), int(arguments["warmup"]))
        )
    else:
        raise SystemExit(f"unknown bench task {task!r}")
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    status = main()
    # Not sys.exit: an SDK request completing during interpreter finalization aborts the
    # process after it printed its figures (see turnout.process_exit). Imported only now,
    # so that the `imports` task measures `import turnout` alone.
    from turnout.process_exit import exit_process

    exit_process(status)
