"""The e2b sections of `turnout bench`, measured against the local E2B-compatible server.

`turnout bench` starts the server before the first section that needs it. Each execution
waits until the server is quiet (`quiet`: no sandbox alive or being killed, a kernel
ready), so one execution's background kill never lands on the next one's clock. Sections:
turnout's overhead over the raw SDK sequence, the time saved by killing in the background,
the sandbox pool, and concurrent executions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from turnout_devtools.bench.harness import (
    E2B_ENV,
    POOL_ENV,
    POOL_SIZE,
    SERVER_KERNELS,
    BenchContext,
    settle,
)
from turnout_devtools.bench.sections import (
    E2B,
    SectionResult,
    elapsed_ms,
    interleaved,
    p50,
    summary,
)
from turnout_devtools.bench.stats import Bound, ratio, summarize

if TYPE_CHECKING:
    from turnout_e2b_server.supervisor import ServerProcess

__all__ = ["NoServerError", "RawSdk", "concurrency", "e2b_overhead", "kill_saving", "pool", "quiet"]


class NoServerError(Exception):
    """The e2b plugin is not installed: its sections are skipped."""


def _server(context: BenchContext) -> ServerProcess:
    if context.server is None:
        raise NoServerError(
            "the e2b plugin and its local server are not installed (turnout-e2b[local-server])"
        )
    return context.server


async def quiet(context: BenchContext, *, live: int = 0, kernels: int | None = None) -> None:
    """Wait until no sandbox is alive or being killed and the kernel pools are refilled
    (at most a minute: a wait that gives up is counted and reported)."""
    is_quiet = partial(context.server_quiet, live=live, kernels=kernels)
    if not await settle(is_quiet, timeout_s=60.0):
        context.settle_timeouts += 1


class RawSdk:
    """The hand-written baseline: AsyncSandbox.create, run_code, kill, nothing else."""

    def __init__(self, server: ServerProcess) -> None:
        self.options = server.sdk_options

    async def run(self, code: str) -> tuple[float, float]:
        """Milliseconds to the result, and for the kill after it."""
        from e2b_code_interpreter import AsyncSandbox

        started = time.perf_counter()
        sandbox = await AsyncSandbox.create(timeout=60, **self.options)
        execution = await sandbox.run_code(code, language="python")
        if execution.error is not None or not execution.results:
            raise RuntimeError(f"the raw SDK run failed: {execution.error!r}")
        result_at = time.perf_counter()
        await sandbox.kill()
        done = time.perf_counter()
        return (result_at - started) * 1000, (done - result_at) * 1000


class _RecordingRaw:
    """The raw sequence as a bench side, keeping its two phases apart."""

    def __init__(self, raw_sdk: RawSdk) -> None:
        self._raw_sdk = raw_sdk
        self.to_result: list[float] = []
        self.kills: list[float] = []

    async def __call__(self) -> float:
        result_ms, kill_ms = await self._raw_sdk.run("1")
        self.to_result.append(result_ms)
        self.kills.append(kill_ms)
        return result_ms + kill_ms


def _e2b_once(env: str = E2B_ENV) -> Callable[[], Awaitable[float]]:
    from turnout import execute_code_node

    node = {"language": "python", "code": "return 1"}
    return lambda: elapsed_ms(lambda: execute_code_node(node, {}, backend=E2B, env=env))


async def e2b_overhead(context: BenchContext) -> SectionResult:
    """execute_code_node on e2b against the raw SDK sequence, same code, same server."""
    server = _server(context)
    raw_sdk = RawSdk(server)
    through_turnout = _e2b_once()
    figures: dict[str, Any] = {}
    bounds: list[Bound] = []
    # The E2B-like create delay always; the bare server as well in a full run.
    for delay in (150,) if context.quick else (150, 0):
        server.configure(create_delay_ms=delay, kill_delay_ms=0)
        raw = _RecordingRaw(raw_sdk)
        samples = await interleaved(
            context.count(20, 5),
            1,
            {"turnout": through_turnout, "raw": raw},
            before_each=lambda: quiet(context),
        )
        warm = len(raw.to_result) - len(samples["raw"])
        to_result, kills = raw.to_result[warm:], raw.kills[warm:]
        turnout, baseline = summarize(samples["turnout"]), summarize(samples["raw"])
        value = ratio(turnout.p50, baseline.p50)
        figures[f"create_delay_{delay}ms"] = {
            "turnout_ms": turnout.to_dict(),
            "raw_ms": baseline.to_dict(),
            "raw_to_result_ms": summary(to_result),
            "raw_kill_ms": summary(kills),
            "ratio_p50": value,
            "ratio_p95": ratio(turnout.p95, baseline.p95),
            "ratio_vs_raw_without_kill_p50": ratio(turnout.p50, p50(to_result)),
        }
        bounds.append(
            Bound(
                f"e2b overhead vs raw SDK, create delay {delay} ms (p50 ratio)",
                "",
                value,
                1.05,
                True,
            )
        )
    return SectionResult(figures, bounds)


async def kill_saving(context: BenchContext) -> SectionResult:
    """What the background kill saves: kill time against result latency, normal and slow."""
    server = _server(context)
    raw_sdk = RawSdk(server)
    through_turnout = _e2b_once()
    figures: dict[str, Any] = {}
    results: dict[int, list[float]] = {0: [], 300: []}
    kills: dict[int, list[float]] = {0: [], 300: []}
    server.configure(create_delay_ms=150)
    for index in range(context.count(10, 2) + 1):
        for slow in (0, 300):
            server.configure(kill_delay_ms=slow)
            await quiet(context)
            latency = await through_turnout()
            await quiet(context)
            _, kill_ms = await raw_sdk.run("1")
            if index > 0:
                results[slow].append(latency)
                kills[slow].append(kill_ms)
    server.configure(kill_delay_ms=0)
    for slow in (0, 300):
        result_p50, kill_p50 = p50(results[slow]), p50(kills[slow])
        figures[f"kill_delay_{slow}ms"] = {
            "turnout_result_ms": summary(results[slow]),
            "kill_ms": summary(kills[slow]),
            "saved_ms_p50": round(kill_p50, 3),
            "saved_fraction_of_synchronous_p50": ratio(kill_p50, result_p50 + kill_p50),
        }
    figures["result_p50_ratio_slow_vs_normal_kill"] = ratio(p50(results[300]), p50(results[0]))
    return SectionResult(figures)


async def pool(context: BenchContext) -> SectionResult:
    """The warm pool against no pool, create delay 150 ms, one execution at a time."""
    from turnout.codenode import default_engine

    server = _server(context)
    server.configure(create_delay_ms=150, kill_delay_ms=0)
    unpooled, pooled = _e2b_once(E2B_ENV), _e2b_once(POOL_ENV)
    await pooled()  # starts the pool (a miss: the pool starts on first use)
    backend: Any = default_engine(POOL_ENV).backend(E2B)

    def pool_full() -> bool:
        ready = backend.pool is not None and backend.pool.idle >= POOL_SIZE
        return ready and context.server_quiet(live=POOL_SIZE)

    async def before_each() -> None:
        if not await settle(pool_full, timeout_s=60.0):
            context.settle_timeouts += 1

    try:
        samples = await interleaved(
            context.count(30, 6),
            1,
            {"unpooled": unpooled, "pooled": pooled},
            before_each=before_each,
        )
        stats = backend.pool.stats.to_log() if backend.pool is not None else {}
    finally:
        await default_engine(POOL_ENV).aclose()  # drain the pool: later sections need quiet
    with_pool, without = summarize(samples["pooled"]), summarize(samples["unpooled"])
    value = ratio(with_pool.p50, without.p50)
    figures = {
        "pool_size": POOL_SIZE,
        "pooled_ms": with_pool.to_dict(),
        "unpooled_ms": without.to_dict(),
        "ratio_p50": value,
        "ratio_p95": ratio(with_pool.p95, without.p95),
        "pool_stats": stats,
    }
    bound = Bound("warm pool p50 / no pool p50, create delay 150 ms", "", value, 0.4, True)
    return SectionResult(figures, [bound])


async def concurrency(context: BenchContext) -> SectionResult:
    """Throughput at concurrency 1, 4 and 16 (create delay 150 ms): turnout against raw.

    The local server boots a sandbox's kernels (IPython, Node) at create, and starting one
    costs about half a second of CPU: a phase that had to start kernels would measure the
    emulator's kernel start rate on 2 cores, not turnout. So the server keeps
    `SERVER_KERNELS` kernels per language ready, each phase runs at most that many
    executions, and every phase starts on a quiet server with all of them ready.
    """
    server = _server(context)
    server.configure(create_delay_ms=150, kill_delay_ms=0)
    raw_sdk = RawSdk(server)
    through_turnout = _e2b_once()
    figures: dict[str, Any] = {}
    bounds: list[Bound] = []

    async def raw() -> float:
        result_ms, kill_ms = await raw_sdk.run("1")
        return result_ms + kill_ms

    def drained() -> bool:
        return int(server.stats()["live_sandboxes"]) == 0

    async def phase(
        run_one: Callable[[], Awaitable[float]], level: int, total: int
    ) -> tuple[float, float]:
        """Seconds to the last result, and until the server has killed every sandbox."""
        await quiet(context, kernels=total)
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await run_one()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(level)))
        to_results = time.perf_counter() - started
        await settle(drained, timeout_s=60.0, interval_s=0.01)
        return to_results, time.perf_counter() - started

    for run_one in (through_turnout, raw):  # imports, engine, connections: not timed
        await quiet(context)
        await run_one()
    # Executions per phase, and phases per side (the throughput is their median): 16 at
    # once is the noisiest level on 2 cores (the server restarts 32 kernels during each
    # phase), so it gets one phase more.
    plan = {
        1: (context.count(8, 3), context.count(3, 1)),
        4: (context.count(16, 8), context.count(3, 1)),
        16: (16, context.count(4, 2)),
    }
    for level, (total, repeats) in plan.items():
        total = min(max(total, level), SERVER_KERNELS)
        walls: dict[str, list[float]] = {"turnout": [], "raw": []}
        to_results: dict[str, list[float]] = {"turnout": [], "raw": []}
        for repeat in range(repeats):
            order = ("turnout", "raw") if repeat % 2 == 0 else ("raw", "turnout")
            for side in order:
                run_one = through_turnout if side == "turnout" else raw
                results_s, drained_s = await phase(run_one, level, total)
                to_results[side].append(results_s)
                walls[side].append(drained_s)
        # Judged on the time until every sandbox is killed, on both sides: turnout's kills
        # run after its results, and sustained throughput pays for them too.
        turnout_tp = total / p50(walls["turnout"])
        raw_tp = total / p50(walls["raw"])
        value = ratio(turnout_tp, raw_tp)
        turnout_results_tp = total / p50(to_results["turnout"])
        figures[f"concurrency_{level}"] = {
            "executions_per_phase": total,
            "phases_per_side": repeats,
            "turnout_per_s": round(turnout_tp, 3),
            "raw_per_s": round(raw_tp, 3),
            "ratio": value,
            "turnout_results_per_s": round(turnout_results_tp, 3),
            "ratio_to_last_result": ratio(turnout_results_tp, raw_tp),
        }
        bounds.append(
            Bound(f"e2b throughput at concurrency {level} vs raw SDK", "", value, 0.9, False)
        )
    return SectionResult(figures, bounds)
