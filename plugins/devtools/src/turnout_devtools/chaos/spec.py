"""What a chaos run injects and runs: the fault spec, the workload, and the seeded plan.

A fault spec is a comma-separated list of `KIND=PERCENT` (`create_429=3%,drop_stream=2%`);
each percentage is the chance that one execution arms that fault, so the percentages add
up to the combined fault rate (at most 100 %). The plan is a pure function of the seed:
the same `(executions, spec, seed)` always gives the same workloads, languages and faults.

Kinds, and the local server's fault each one queues (see turnout_e2b_server.faults):

    create_429    the next sandbox create answers 429 (rate limited; E2B asks for a retry)
    create_503    the next sandbox create answers 503 (service unavailable)
    drop_stream   the next /execute stream is cut 50 ms in, without end_of_execution
    kill_mid_run  the sandbox running the next /execute is killed 50 ms into the run
    slow_kill     the next sandbox kill (DELETE) waits 3 s before killing
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from turnout.errors import ValidationError

__all__ = [
    "DEFAULT_SPEC",
    "FAULT_KINDS",
    "FAULT_PAYLOADS",
    "LANGUAGES",
    "WORKLOAD_MIX",
    "FaultSpec",
    "PlannedExecution",
    "Workload",
    "node_config",
    "plan",
]

Workload = Literal["ok", "user_error", "timeout"]

#: The server fault (admin API JSON) each kind queues. Execution faults fire 50 ms into a
#: run; every workload sleeps 200 ms first, so they always land while the code runs.
FAULT_PAYLOADS: Mapping[str, Mapping[str, Any]] = {
    "create_429": {"kind": "create_error", "status": 429, "message": "chaos: rate limited"},
    "create_503": {"kind": "create_error", "status": 503, "message": "chaos: unavailable"},
    "drop_stream": {"kind": "drop_stream", "after_ms": 50},
    "kill_mid_run": {"kind": "kill_mid_run", "after_ms": 50},
    "slow_kill": {"kind": "slow_kill", "delay_ms": 3000},
}
FAULT_KINDS: tuple[str, ...] = tuple(FAULT_PAYLOADS)
DEFAULT_SPEC = "create_429=3%,create_503=3%,drop_stream=2%,kill_mid_run=1%,slow_kill=1%"

#: Share of each workload: code that returns, code that raises, code that outlives its
#: timeout. Each workload has exactly one correct outcome (or a retryable infrastructure
#: error, when a fault hit it).
WORKLOAD_MIX: Mapping[Workload, float] = {"ok": 0.90, "user_error": 0.05, "timeout": 0.05}
LANGUAGES: tuple[Literal["python", "javascript"], ...] = ("python", "javascript")
#: Node timeouts (ms): generous for code that finishes in 200 ms, short for the code that
#: never finishes (its call must still end within this + 1 s).
OK_TIMEOUT_MS = 10_000
HANG_TIMEOUT_MS = 1_500

_ITEM = re.compile(r"^\s*([a-z0-9_]+)\s*=\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")


@dataclass(frozen=True)
class FaultSpec:
    """Per-kind probabilities (0..1) that one execution arms that fault."""

    rates: Mapping[str, float]

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """Parse `KIND=P%[,KIND=P%...]`; an empty text or `none` means no faults.

        Raises `ValidationError` (field `--faults`) naming the bad item."""
        stripped = text.strip()
        if stripped in ("", "none"):
            return cls({})
        rates: dict[str, float] = {}
        for item in stripped.split(","):
            match = _ITEM.match(item)
            if match is None:
                raise ValidationError(
                    "--faults", f"{item.strip()!r} is not KIND=PERCENT%", ", ".join(FAULT_KINDS)
                )
            kind, percent = match.group(1), float(match.group(2))
            if kind not in FAULT_PAYLOADS:
                raise ValidationError(
                    "--faults", f"unknown fault kind {kind!r}", ", ".join(FAULT_KINDS)
                )
            if kind in rates:
                raise ValidationError("--faults", f"{kind!r} is given twice")
            rates[kind] = percent / 100
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValidationError(
                "--faults", f"the rates add up to {sum(rates.values()):.0%}", "at most 100%"
            )
        return cls(rates)

    @property
    def total(self) -> float:
        """The combined fault rate: the chance that one execution arms any fault."""
        return sum(self.rates.values())

    def describe(self) -> str:
        if not self.rates:
            return "none"
        return ",".join(f"{kind}={rate * 100:g}%" for kind, rate in self.rates.items())

    def draw(self, rng: random.Random) -> str | None:
        """The fault one execution arms (None: none), one uniform draw."""
        point = rng.random()
        for kind, rate in self.rates.items():
            if point < rate:
                return kind
            point -= rate
        return None


@dataclass(frozen=True)
class PlannedExecution:
    """One execution of the run, as the seed decided it."""

    index: int
    language: Literal["python", "javascript"]
    workload: Workload
    fault: str | None

    @property
    def timeout_ms(self) -> int:
        return HANG_TIMEOUT_MS if self.workload == "timeout" else OK_TIMEOUT_MS


def plan(executions: int, spec: FaultSpec, seed: int) -> list[PlannedExecution]:
    """The run's executions, decided by `seed` alone (same seed, same plan)."""
    rng = random.Random(seed)
    planned = []
    workloads = list(WORKLOAD_MIX)
    weights = list(WORKLOAD_MIX.values())
    for index in range(executions):
        workload = rng.choices(workloads, weights)[0]
        language = LANGUAGES[rng.randrange(len(LANGUAGES))]
        planned.append(PlannedExecution(index, language, workload, spec.draw(rng)))
    return planned


_CODE: Mapping[tuple[str, Workload], str] = {
    ("python", "ok"): "import time\ntime.sleep(0.2)\nprint('chaos', n)\nreturn {'n': n}",
    ("python", "user_error"): "import time\ntime.sleep(0.2)\nraise ValueError('chaos: user error')",
    ("python", "timeout"): "import time\ntime.sleep(0.2)\ntime.sleep(600)",
    ("javascript", "ok"): "await new Promise((r) => setTimeout(r, 200));\n"
    "console.log('chaos', n);\nreturn { n };",
    ("javascript", "user_error"): "await new Promise((r) => setTimeout(r, 200));\n"
    "throw new Error('chaos: user error');",
    ("javascript", "timeout"): "await new Promise((r) => setTimeout(r, 200));\n"
    "await new Promise(() => {});",
}


_BEACON: Mapping[str, str] = {
    "python": "import socket as _chaos\n"
    "with _chaos.socket(_chaos.AF_INET, _chaos.SOCK_DGRAM) as _b:\n"
    "    _b.sendto(b'{index}', ('127.0.0.1', {port}))\n",
    "javascript": "{{ const b = require('dgram').createSocket('udp4'); "
    "b.send('{index}', {port}, '127.0.0.1', () => b.close()); }}\n",
}


def node_config(execution: PlannedExecution, beacon_port: int | None = None) -> dict[str, Any]:
    """The stored node config the execution runs (its context is `{"n": index}`).

    With `beacon_port`, the code first sends its index in one UDP datagram to that port
    of 127.0.0.1: the moment the user code started, as the run measures it."""
    code = _CODE[(execution.language, execution.workload)]
    if beacon_port is not None:
        beacon = _BEACON[execution.language].format(index=execution.index, port=beacon_port)
        code = beacon + code
    return {"language": execution.language, "code": code, "timeout": execution.timeout_ms}
