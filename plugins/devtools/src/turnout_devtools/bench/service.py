"""The `service` section of `turnout bench`: what calling turnout over HTTP costs.

Measured against the same call on an in-process `turnout.Client`, with the same flags, on
the same machine, in the same run (see docs/performance.md and docs/service.md):

- **latency**: one trivial Python node through a real `turnout serve` (uvicorn on
  127.0.0.1, called by `ServiceClient` over HTTP with a bearer token) and through
  `Client.execute`, interleaved A, B, B, A after a warm-up; on local-subprocess, and on
  e2b at the bench's local E2B-compatible server with a 150 ms create delay (each
  execution starting on a quiet server, as the e2b sections do). Bound: p50 ratio <= 1.10.
- **throughput at concurrency 32** on local-subprocess: phases of executions by 32 workers
  at once, through the service and through the library alternately; bound: >= 0.9x the
  library's. Not on e2b: the bench's server keeps 16 kernels per language ready (the
  `concurrency` section's bound on its load), and 32 sandboxes at once would measure the
  emulator starting kernels on a shared machine, not the service.
- **memory**: the service process's resident set over 5,000 requests (fewer with
  `--quick` or `--iterations`), after a warm-up; bound: growth <= 20 MiB.

The service runs in its own process, so its memory is its own and its event loop competes
with the bench's as a worker's would. Imported only when the bench runs this section.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from turnout_serve.client import ServiceClient
from turnout_serve.errors import OverloadedError
from turnout_serve.settings import TOKENS_VARIABLE

from turnout.client import Client
from turnout_devtools.bench.harness import BenchContext, settle
from turnout_devtools.bench.sections import SectionResult
from turnout_devtools.bench.stats import Bound, ratio, summarize

__all__ = ["ENVIRONMENT", "measure"]

ENVIRONMENT = "bench-service"
TENANT_ON_E2B = "bench-on-e2b"
"""The tenant the section's flags send to e2b; every other execution runs on local-subprocess."""
LOCAL = "local-subprocess"
E2B = "e2b"
NODE = {"language": "python", "code": "return 1"}
CONCURRENCY = 32
RSS_CONCURRENCY = 8
"""Requests at once while the memory is watched: enough to keep the service busy, few
enough that 5,000 requests finish in a few minutes on 2 cores."""
CREATE_DELAY_MS = 150
START_TIMEOUT_S = 120.0
MIB = 1024 * 1024

Call = Callable[[], Awaitable[Any]]


async def measure(context: BenchContext) -> SectionResult:
    """The section (module docstring): figures for every side, bounds for each backend."""
    flags = write_flags(context)
    if context.server is not None:
        context.server.configure(create_delay_ms=CREATE_DELAY_MS, kill_delay_ms=0)
    service = ServiceProcess(context, flags)
    url = await asyncio.to_thread(service.start)
    figures: dict[str, Any] = {}
    bounds: list[Bound] = []
    try:
        async with (
            ServiceClient(url, token=service.token) as http,
            Client(str(flags), ENVIRONMENT) as library,
        ):
            backends = [LOCAL] + ([E2B] if context.server is not None else [])
            for backend in backends:
                sides = _sides(http, library, backend)
                figure, bound = await _latency(context, backend, sides)
                figures[f"latency_{backend}"] = figure
                bounds.append(bound)
            local = _sides(http, library, LOCAL)
            figure, bound = await _throughput(context, local)
            figures[f"throughput_{LOCAL}_concurrency_{CONCURRENCY}"] = figure
            bounds.append(bound)
            figure, bound = await _memory(context, service, local["http"])
            figures[f"rss_{LOCAL}"] = figure
            bounds.append(bound)
    finally:
        status = await asyncio.to_thread(service.stop)
        if status != 0:
            context.notes.append(
                f"service: turnout serve exited with status {status}: {service.log_tail()!r}"
            )
    if context.server is None:
        figures["e2b"] = "skipped: turnout-e2b is not installed"
    return SectionResult(figures, bounds)


def _sides(http: ServiceClient, library: Client, backend: str) -> dict[str, Call]:
    """The same execution through the service and on the client, each failing loudly when
    it ran elsewhere than `backend` (a figure of the wrong backend would be silently wrong)."""
    tenant = TENANT_ON_E2B if backend == E2B else None

    def checked(caller: ServiceClient | Client) -> Call:
        async def call() -> None:
            envelope = await caller.execute(NODE, {}, tenant_id=tenant)
            if envelope.metadata.backend != backend:
                raise RuntimeError(f"ran on {envelope.metadata.backend!r}, expected {backend!r}")

        return call

    return {"http": checked(http), "library": checked(library)}


async def _timed(call: Call) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def _latency(
    context: BenchContext, backend: str, sides: dict[str, Call]
) -> tuple[dict[str, Any], Bound]:
    """One execution at a time, A, B, B, A after `warmup` rounds; p50 of HTTP / library."""
    on_e2b = backend == E2B
    count = context.count(20, 5) if on_e2b else context.count(40, 10)
    warmup = min(3, count)
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for index in range(warmup + count):
        order = list(sides) if index % 2 == 0 else list(sides)[::-1]
        for name in order:
            if on_e2b:
                await _quiet(context)
            elapsed_ms = await _timed(sides[name])
            if index >= warmup:
                samples[name].append(elapsed_ms)
    http, library = summarize(samples["http"]), summarize(samples["library"])
    value = ratio(http.p50, library.p50)
    figure = {
        "http_ms": http.to_dict(),
        "library_ms": library.to_dict(),
        "added_ms_p50": round(http.p50 - library.p50, 3),
        "ratio_p50": value,
        "ratio_p95": ratio(http.p95, library.p95),
    }
    if on_e2b:
        figure["create_delay_ms"] = CREATE_DELAY_MS
    name = f"service {backend} latency via HTTP / Client (p50 ratio)"
    return figure, Bound(name, "", value, 1.10, True)


async def _quiet(context: BenchContext) -> None:
    """No sandbox alive or being killed at the local server, its kernels ready."""
    if not await settle(context.server_quiet, timeout_s=60.0):
        context.settle_timeouts += 1


async def _throughput(
    context: BenchContext, sides: dict[str, Call]
) -> tuple[dict[str, Any], Bound]:
    """Executions per second with `CONCURRENCY` callers, the sides alternating by phase."""
    total = context.count(256, 64)
    phases = context.count(3, 1)
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    retries = {"overloaded": 0}
    for phase in range(phases):
        order = list(sides) if phase % 2 == 0 else list(sides)[::-1]
        for name in order:
            seconds[name].append(await _phase(sides[name], CONCURRENCY, total, retries))
    http_per_s = total / summarize(seconds["http"]).p50
    library_per_s = total / summarize(seconds["library"]).p50
    value = ratio(http_per_s, library_per_s)
    figure = {
        "concurrency": CONCURRENCY,
        "executions_per_phase": total,
        "phases_per_side": phases,
        "http_per_s": round(http_per_s, 3),
        "library_per_s": round(library_per_s, 3),
        "ratio": value,
        "overloaded_retries": retries["overloaded"],
    }
    name = f"service {LOCAL} throughput at concurrency {CONCURRENCY} / Client"
    return figure, Bound(name, "", value, 0.9, False)


async def _phase(call: Call, level: int, total: int, retries: dict[str, int]) -> float:
    """Seconds for `level` workers to run `total` executions between them. A 429 (every
    slot taken for an instant) is waited out and retried, and counted."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            while True:
                try:
                    await call()
                    break
                except OverloadedError:
                    retries["overloaded"] += 1
                    await asyncio.sleep(0.01)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(level)))
    return time.perf_counter() - started


async def _memory(
    context: BenchContext, service: ServiceProcess, call: Call
) -> tuple[dict[str, Any], Bound]:
    """The service's resident set before and after `requests` requests (after a warm-up)."""
    requests = context.count(5000, 500)
    warmup = min(100, max(2, requests // 10))
    retries = {"overloaded": 0}
    await _phase(call, RSS_CONCURRENCY, warmup, retries)
    start = service.rss_bytes()
    checkpoints: list[int | None] = []
    step = max(1, requests // 10)
    done = 0
    while done < requests:
        batch = min(step, requests - done)
        await _phase(call, RSS_CONCURRENCY, batch, retries)
        done += batch
        checkpoints.append(service.rss_bytes())
    end = checkpoints[-1] if checkpoints else start
    growth = None if start is None or end is None else round((end - start) / MIB, 2)
    figure = {
        "requests": requests,
        "warmup_requests": warmup,
        "concurrency": RSS_CONCURRENCY,
        "rss_start_mib": None if start is None else round(start / MIB, 2),
        "rss_end_mib": None if end is None else round(end / MIB, 2),
        "rss_growth_mib": growth,
        "rss_checkpoints_mib": [None if b is None else round(b / MIB, 2) for b in checkpoints],
        "overloaded_retries": retries["overloaded"],
    }
    name = f"service RSS growth over {requests} requests ({LOCAL})"
    return figure, Bound(name, "", growth, 20.0, True, "MiB")


def write_flags(context: BenchContext) -> Path:
    """The section's flags: `bench-service` runs on local-subprocess, except the tenant
    `TENANT_ON_E2B`, which runs on e2b at the bench's local server (when there is one)."""
    lines = [
        "schema_version = 1",
        "",
        f'[environments."{ENVIRONMENT}"]',
        'legacy_backend = "local-subprocess"',
        'stage = "off"',
    ]
    if context.server is not None:
        url = json.dumps(context.server.url)
        lines[-1:-1] = ['target_backend = "e2b"']
        lines += [
            "",
            f'[environments."{ENVIRONMENT}".overrides]',
            f'tenants = {{ "{TENANT_ON_E2B}" = "rampdown" }}',
            "",
            f'[environments."{ENVIRONMENT}".backends.e2b]',
            f"api_url = {url}",
            f"sandbox_url = {url}",
            'embedded_server = "never"',
        ]
    path = context.directory / "service_flags.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class ServiceProcess:
    """`turnout serve --port 0` for the bench: the bench's environment, a random token,
    its log in the bench's directory."""

    def __init__(self, context: BenchContext, flags: Path) -> None:
        self.token = secrets.token_urlsafe(24)
        self.environment = {
            **context.child_environment(),
            TOKENS_VARIABLE: self.token,
            "TURNOUT_ENV": ENVIRONMENT,
        }
        self.command = [
            str(Path(sys.executable).parent / "turnout"),
            "serve",
            "--port",
            "0",
            "--flags",
            str(flags),
            "--env",
            ENVIRONMENT,
        ]
        self.log_path = context.directory / "service.log"
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start it; its URL, once it listens (killed if it says nothing within
        `START_TIMEOUT_S`)."""
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=self.environment,
        )
        stdout = self.process.stdout
        assert stdout is not None
        watchdog = threading.Timer(START_TIMEOUT_S, self.process.kill)
        watchdog.start()
        try:
            line = stdout.readline()
        finally:
            watchdog.cancel()
        url = line.decode(errors="replace").strip()
        if not url.startswith("http://"):
            self.stop()
            raise RuntimeError(f"turnout serve did not start: {self.log_tail()!r}")
        return url

    def rss_bytes(self) -> int | None:
        """The service process's resident set (Linux: /proc), or None where unknown."""
        if self.process is None:
            return None
        try:
            with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def stop(self) -> int | None:
        """SIGTERM (the service drains), SIGKILL after a minute; its exit status."""
        process, self.process = self.process, None
        status = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                status = process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                status = process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
        return status

    def log_tail(self, limit: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-limit:]
        return ""
