"""What a chaos run observed, the properties it must satisfy, and the table it prints.

The four required properties (the command exits 1 when one fails):

1. every execution is accounted for: it ended in a result or a turnout error (never an
   unexpected exception, never still running at `timeout + 60 s`);
2. every error is classified with the right `retryable`: a workload has exactly one
   correct outcome (its output, `runtime` or `timeout`, the last two not retryable), and
   the only other acceptable one is a *retryable* `InfrastructureError` (a fault hit it);
3. zero leaked sandboxes: none is alive on the server after `Engine.aclose()`, and the
   server itself stops cleanly (no kernel process left, exit status 0);
4. no call takes more than its node's timeout + 1 s, counted from the moment its code
   started: `wall - code_start <= timeout + 1 s`. The code's first statement sends one UDP
   datagram to the run on 127.0.0.1, which is how the run knows that moment. Where the
   code never started (a stream cut before the kernel ran it) the moment its sandbox was
   ready counts instead (the end of the SDK's create call), and where no sandbox was made
   (a create given up) the whole wall time. Getting a sandbox (slot wait, create, create
   retries) is bounded separately, by the backend's `create_budget_s`. Why not the raw
   wall time: the local server starts two kernels per sandbox, and at concurrency 20 on a
   small machine a create waits seconds for CPU (E2B's cloud creates in about 150 ms),
   which a node that runs into its timeout cannot absorb. The raw count (creation
   included) is reported too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from turnout.redaction import scrub_text
from turnout_devtools.bench.stats import percentile
from turnout_devtools.chaos.spec import FaultSpec, Workload

__all__ = [
    "GRACE_MS",
    "ChaosReport",
    "ExecutionRecord",
    "classification_problem",
    "render_text",
    "spread_ms",
]

#: How much longer than its node's timeout a call may take.
GRACE_MS = 1000.0
Outcome = Literal["ok", "error", "hang", "crash"]


@dataclass(frozen=True)
class ExecutionRecord:
    """How one execution ended, as its caller saw it."""

    index: int
    language: str
    workload: Workload
    fault: str | None
    timeout_ms: int
    wall_ms: float
    outcome: Outcome
    error_type: str | None = None
    error_kind: str | None = None
    retryable: bool | None = None
    started: bool | None = None
    message: str = ""
    output_ok: bool = True
    code_start_ms: float | None = None
    """From the call's start to the user code's first statement (None: never started)."""
    ready_ms: float | None = None
    """From the call's start to its sandbox being ready (None: no sandbox was created)."""
    acquire_ms: float | None = None
    """Provisioning as the backend reported it (None: not reported): slot wait, sandbox
    create or take, turnout's runtime loaded (`turnout.backend.PROVISIONING_PHASES`)."""
    backend_timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def after_start_ms(self) -> float:
        """The call's time once its code started; where the code never reported starting,
        once its sandbox was ready and turnout's runtime loaded in it (the backend's
        `setup`); where no sandbox was made, all of it."""
        if self.code_start_ms is not None:
            return self.wall_ms - self.code_start_ms
        if self.ready_ms is not None:
            return self.wall_ms - self.ready_ms - self.backend_timings_ms.get("setup", 0.0)
        if self.acquire_ms is not None:
            return self.wall_ms - self.acquire_ms
        return self.wall_ms

    @property
    def code_never_ran(self) -> bool:
        """The backend failed before any user code ran (a create or the runtime's load)."""
        return self.error_type == "InfrastructureError" and self.started is False

    @property
    def label(self) -> str:
        """How the error table groups this outcome."""
        if self.outcome != "error":
            return self.outcome
        if self.error_type == "InfrastructureError":
            return f"InfrastructureError ({'during the run' if self.started else 'before'})"
        kind = f" {self.error_kind}" if self.error_kind else ""
        return f"{self.error_type}{kind}"


_EXPECTED_KIND: Mapping[Workload, str] = {"user_error": "runtime", "timeout": "timeout"}


def classification_problem(record: ExecutionRecord) -> str | None:
    """Why this outcome is wrong for its workload (None: it is right)."""
    where = f"execution {record.index} ({record.language}, {record.workload})"
    if record.outcome in ("hang", "crash"):
        return None  # an accounting problem, reported as such
    if record.error_type == "InfrastructureError":
        if record.retryable:
            return None
        return f"{where}: InfrastructureError with retryable=False: {record.message}"
    if record.workload == "ok":
        if record.outcome == "ok":
            return None if record.output_ok else f"{where}: wrong output"
        return f"{where}: {record.label} (retryable={record.retryable}): {record.message}"
    wanted = _EXPECTED_KIND[record.workload]
    if record.outcome == "ok":
        return f"{where}: succeeded; expected CodeExecutionError ({wanted})"
    if (
        record.error_type != "CodeExecutionError"
        or record.error_kind != wanted
        or record.retryable is not False
    ):
        return (
            f"{where}: {record.label} (retryable={record.retryable}); expected "
            f"CodeExecutionError ({wanted}, retryable=False): {record.message}"
        )
    return None


def spread_ms(values: Sequence[float]) -> dict[str, float]:
    """The nearest-rank p50 and p95 and the maximum of `values` (ms, to 0.1; all 0 for none)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    return {
        "p50": round(percentile(values, 0.50), 1),
        "p95": round(percentile(values, 0.95), 1),
        "max": round(max(values), 1),
    }


@dataclass
class ChaosReport:
    """Everything one chaos run measured."""

    executions: int
    concurrency: int
    seed: int
    spec: FaultSpec
    max_sandboxes: int | None
    server: str
    records: list[ExecutionRecord] = field(default_factory=list)
    duration_s: float = 0.0
    create_retries: int = 0
    creates_given_up: int = 0
    peak_live_sandboxes: int = 0
    leaked_sandboxes: list[str] = field(default_factory=list)
    server_problems: list[str] = field(default_factory=list)
    event_problems: list[str] = field(default_factory=list)
    """turnout events of the run that did not parse (`turnout.log_events`): what they
    would have said about an execution is unknown, so it is not accounted for."""
    faults_queued: dict[str, int] = field(default_factory=dict)
    faults_fired: dict[str, int] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_end_mb: float = 0.0

    # -- figures ---------------------------------------------------------------------------

    @property
    def results(self) -> int:
        return sum(1 for record in self.records if record.outcome == "ok")

    @property
    def errors(self) -> list[ExecutionRecord]:
        return [record for record in self.records if record.outcome == "error"]

    def errors_by_kind(self) -> dict[str, dict[str, int]]:
        """Error label -> how many, and how many of them were retryable."""
        table: dict[str, dict[str, int]] = {}
        for record in self.errors:
            row = table.setdefault(record.label, {"count": 0, "retryable": 0})
            row["count"] += 1
            row["retryable"] += 1 if record.retryable else 0
        return dict(sorted(table.items()))

    def latency_ms(self) -> dict[str, float]:
        """From the call to its answer, every call."""
        return spread_ms([record.wall_ms for record in self.records])

    def start_latency_ms(self) -> dict[str, float]:
        """From the call to the code's first statement (slot, create, upload, kernel)."""
        return spread_ms([r.code_start_ms for r in self.records if r.code_start_ms is not None])

    def overruns(self) -> list[ExecutionRecord]:
        """Calls longer than timeout + 1 s once their code started (property 4). A call
        whose code never ran has no timeout to keep: the backend bounds getting a sandbox
        (`create_budget_s`) and loading the runtime (`request_timeout_s`)."""
        return [
            r
            for r in self.records
            if not r.code_never_ran and r.after_start_ms > r.timeout_ms + GRACE_MS
        ]

    def raw_overruns(self) -> list[ExecutionRecord]:
        """Calls longer than timeout + 1 s from the call itself, sandbox creation included."""
        return [r for r in self.records if r.wall_ms > r.timeout_ms + GRACE_MS]

    def unexplained_run_errors(self) -> int:
        """Infrastructure errors during a run beyond the execution faults that fired."""
        during = sum(
            1
            for record in self.errors
            if record.error_type == "InfrastructureError" and record.started
        )
        fired = self.faults_fired.get("drop_stream", 0) + self.faults_fired.get("kill_mid_run", 0)
        return max(0, during - fired)

    # -- properties ------------------------------------------------------------------------

    def property_problems(self) -> dict[str, list[str]]:
        """Each required property and what violates it (empty list: it holds)."""
        unaccounted = [
            f"execution {r.index}: {r.outcome}: {r.message}"
            for r in self.records
            if r.outcome in ("hang", "crash")
        ]
        missing = self.executions - len(self.records)
        if missing:
            unaccounted.append(f"{missing} execution(s) have no record")
        unaccounted += [f"unreadable event: {problem}" for problem in self.event_problems]
        misclassified = [
            problem for record in self.records if (problem := classification_problem(record))
        ]
        leaks = [f"sandbox {sandbox} still alive" for sandbox in self.leaked_sandboxes]
        leaks += [f"server: {problem}" for problem in self.server_problems]
        slow = [
            f"execution {r.index} ({r.workload}, {r.label}): {r.after_start_ms:.0f} ms "
            f"after its code started ({r.wall_ms:.0f} ms in all) for a "
            f"{r.timeout_ms} ms timeout"
            for r in self.overruns()
        ]
        return {
            "every execution accounted for": unaccounted,
            "every error classified with the right retryable": misclassified,
            "zero leaked sandboxes": leaks,
            "no call over its timeout + 1 s (from its code's start)": slow,
        }

    @property
    def ok(self) -> bool:
        return not any(self.property_problems().values())

    def to_dict(self) -> dict[str, Any]:
        problems = self.property_problems()
        return {
            "executions": self.executions,
            "concurrency": self.concurrency,
            "seed": self.seed,
            "faults": self.spec.describe(),
            "combined_fault_rate": round(self.spec.total, 4),
            "max_sandboxes": self.max_sandboxes,
            "server": self.server,
            "duration_s": round(self.duration_s, 1),
            "results": self.results,
            "errors": len(self.errors),
            "errors_by_kind": self.errors_by_kind(),
            "retryable": {
                "true": sum(1 for r in self.errors if r.retryable),
                "false": sum(1 for r in self.errors if r.retryable is False),
            },
            "create_retries": self.create_retries,
            "creates_given_up": self.creates_given_up,
            "latency_ms": self.latency_ms(),
            "code_start_ms": self.start_latency_ms(),
            "calls_over_timeout_including_create": len(self.raw_overruns()),
            "peak_live_sandboxes": self.peak_live_sandboxes,
            "leaked_sandboxes": len(self.leaked_sandboxes),
            "caller_rss_mb": {
                "start": round(self.rss_start_mb, 1),
                "peak": round(self.rss_peak_mb, 1),
                "end": round(self.rss_end_mb, 1),
            },
            "faults_queued": self.faults_queued,
            "faults_fired": self.faults_fired,
            "unexplained_run_errors": self.unexplained_run_errors(),
            "server_counters": self.counters,
            "properties": {name: not found for name, found in problems.items()},
            "violations": {name: found for name, found in problems.items() if found},
            "ok": self.ok,
            "records": [asdict(record) for record in self.records],
        }


def render_text(report: ChaosReport) -> str:
    """The human table (stdout of `turnout chaos`)."""
    latency = report.latency_ms()
    acquire = report.start_latency_ms()
    retryable = Counter(r.retryable for r in report.errors)
    cap = "none" if report.max_sandboxes is None else str(report.max_sandboxes)
    rows: list[tuple[str, str]] = [
        ("executions", str(report.executions)),
        ("concurrency", f"{report.concurrency} (server max_sandboxes: {cap})"),
        (
            "faults",
            f"{report.spec.describe()} ({report.spec.total:.0%} combined), seed {report.seed}",
        ),
        ("results", str(report.results)),
        ("errors", str(len(report.errors))),
    ]
    for label, row in report.errors_by_kind().items():
        rows.append((f"  {label}", f"{row['count']} (retryable: {row['retryable']})"))
    rows += [
        ("retryable flags", f"true {retryable[True]}, false {retryable[False]}"),
        (
            "retries spent",
            f"{report.create_retries} create retries; {report.creates_given_up} creates given up",
        ),
        (
            "latency",
            f"p50 {latency['p50']:.0f} ms, p95 {latency['p95']:.0f} ms, "
            f"max {latency['max']:.0f} ms",
        ),
        (
            "until the code starts",
            f"p50 {acquire['p50']:.0f} ms, p95 {acquire['p95']:.0f} ms, "
            f"max {acquire['max']:.0f} ms (slot, create with retries, kernel)",
        ),
        (
            "over timeout + 1 s",
            f"{len(report.overruns())} from the code's start; "
            f"{len(report.raw_overruns())} counting sandbox creation",
        ),
        ("peak live sandboxes", str(report.peak_live_sandboxes)),
        ("leaked sandboxes", str(len(report.leaked_sandboxes))),
        (
            "caller RSS",
            f"start {report.rss_start_mb:.0f} MB, peak {report.rss_peak_mb:.0f} MB, "
            f"end {report.rss_end_mb:.0f} MB",
        ),
        (
            "faults queued/fired",
            ", ".join(
                f"{kind} {report.faults_queued.get(kind, 0)}/{report.faults_fired.get(kind, 0)}"
                for kind in report.spec.rates
            )
            or "none",
        ),
        ("run errors not explained", str(report.unexplained_run_errors())),
        ("wall time", f"{report.duration_s:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"turnout chaos against {report.server}", ""]
    lines += [f"{name.ljust(width)}{value}" for name, value in rows]
    counters = ", ".join(f"{name} {value}" for name, value in report.counters.items())
    lines += ["", f"server counters: {counters or 'none'}", "", "properties:"]
    for name, found in report.property_problems().items():
        lines.append(f"  {'ok  ' if not found else 'FAIL'} {name}")
        lines.extend(f"       {problem}" for problem in found[:10])
        if len(found) > 10:
            lines.append(f"       (+{len(found) - 10} more)")
    verdict = "all properties hold" if report.ok else "PROPERTIES VIOLATED"
    lines += ["", f"CHAOS: {verdict}"]
    return scrub_text("\n".join(lines) + "\n")
