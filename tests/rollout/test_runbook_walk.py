"""docs/migration-runbook.md, walked: every step is one edit of a flag file that a running
engine hot-reloads, a synthetic workload runs, and `turnout rollout report` judges the
step's own block. The gate lines it reports are the ones the runbook quotes.

The backends are scripted in-test stand-ins under the runbook's ids (`local-subprocess`,
`e2b`) that give the same result for every node: what is under test is the flags, the
decisions, the events and the gates, not a backend. Thresholds are lowered to what a
workload of seconds can reach (`WALK`, the options the runbook shows).
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest

from turnout import (
    BackendSettings,
    Capabilities,
    ConfigurationError,
    Engine,
    ExecutionRequest,
    ExecutionResult,
    hookimpl,
    parse_config,
)
from turnout.log_output import configure, preserved
from turnout.registry import discover
from turnout.rollout import Gate, Thresholds, build_report

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "migration-runbook.md"
ENV = "production"
WALK = Thresholds(min_comparisons=100, min_executions=10, min_hours=0)
TENANTS = [f"tenant-{number}" for number in range(100)]
MARKED = [
    parse_config({"language": "python", "code": f"return {n}", "sideEffectFree": True})
    for n in range(3)
]
UNMARKED = parse_config({"language": "python", "code": "return 'webhook sent'"})


class Scripted:
    """Returns the same result for any node, on any backend, at once."""

    id: ClassVar[str] = ""
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = "scripted stand-in"

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            languages=frozenset({"python"}),
            isolation="process",
            network_access=False,
            max_timeout_ms=300_000,
            max_output_bytes=2**20,
            max_result_bytes=2**20,
            memory_limit_mb=None,
            memory_enforcement="none",
        )

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        outcome = {"ok": True, "channel": "return", "value": {"total": 3}}
        return ExecutionResult(result=json.dumps(outcome).encode())

    async def aclose(self) -> None:
        return None


class Legacy(Scripted):
    id: ClassVar[str] = "local-subprocess"


class Target(Scripted):
    id: ClassVar[str] = "e2b"


class Plugin:
    __name__ = "runbook-walk-backends"

    @staticmethod
    @hookimpl
    def turnout_register_backends(registry: Any) -> None:
        registry.add(Legacy)
        registry.add(Target)


STEPS: list[tuple[str, str, str]] = [
    ("off", 'stage = "off"', "off"),
    ("shadow", 'stage = "shadow"', "shadow"),
    ("live 10%", 'stage = "shadow"\nrollout = { live = 10 }', "live"),
    ("live 100%", 'stage = "shadow"\nrollout = { live = 100 }', "live"),
    ("rampdown", 'stage = "shadow"\nrollout = { rampdown = 100 }', "rampdown"),
    (
        "rampdown, an override left",
        'stage = "shadow"\nrollout = { rampdown = 100 }\n'
        'overrides = { tenants = { "tenant-0" = "shadow" } }',
        "rampdown",
    ),
    ("complete", 'target_backend = "e2b"\nstage = "complete"', "complete"),
]
"""Each step: its name, the environment table after its one edit, the block it judges."""


def gate_line(gate: Gate) -> str:
    """The gate's verdict line as `turnout rollout report` prints it."""
    if gate.next_stage is None:
        return f"gate: none after {gate.stage}"
    verdict = {True: "MET", False: "NOT MET", None: "not decided by logs"}[gate.met]
    return f"gate to {gate.next_stage}: {verdict}"


def quoted_walk() -> list[tuple[str, str, str]]:
    """The runbook's table of the walk: step, block, gate line (backquotes removed)."""
    section = RUNBOOK.read_text(encoding="utf-8").split("## The runbook, walked", 1)[1]
    rows = re.findall(r"^\| ([^|`]+?) \| `[^|]*` \| `([^`]+)` \| `([^`]+)` \|$", section, re.M)
    return [(step.strip(), block, gate) for step, block, gate in rows]


async def workload(engine: Engine) -> None:
    """Every tenant runs the three marked nodes; two tenants also run the unmarked one."""
    for tenant in TENANTS:
        for node in MARKED:
            await engine.execute(node, {}, tenant_id=tenant, workflow_id="wf-invoices")
    for tenant in TENANTS[:2]:
        await engine.execute(UNMARKED, {}, tenant_id=tenant, workflow_id="wf-webhooks")
    await engine.shadow.aclose()  # every comparison published


async def walk(tmp_path: Path) -> list[tuple[str, str, str, Any]]:
    """Take every step on one engine; per step its name, block, gate line and report."""
    path = tmp_path / "feature_flags.toml"
    registry = discover(extra_plugins=[Plugin()], disabled=["local-subprocess", "e2b"])
    taken = []
    engine: Engine | None = None
    with preserved():
        for number, (name, table, stage) in enumerate(STEPS):
            path.write_text(f"schema_version = 1\n[environments.{ENV}]\n{table}\n")
            os.utime(path, (1_000_000 + number, 1_000_000 + number))
            if engine is None:
                engine = Engine(ENV, flags_path=path, registry=registry, check_interval=0)
            log = io.StringIO()
            configure(ENV, json_lines=True, stream=log)
            flags = engine.environment_flags  # the edit applies here, as on a worker
            await workload(engine)
            report = build_report(log.getvalue().splitlines(), environment=ENV, thresholds=WALK)
            [block] = [
                s
                for s in report.stages(ENV)
                if s.stage == stage and not s.via_override and flags.config_hash in s.flags_hashes
            ]
            taken.append((name, report.label(block), gate_line(report.gate(block)), report))
        assert engine is not None
        with pytest.raises(ConfigurationError, match='stage = "complete"'):
            await engine.execute(MARKED[0], {}, backend="local-subprocess")
        await engine.aclose()
    return taken


async def test_every_step_reports_the_gate_the_runbook_quotes(tmp_path: Path) -> None:
    """Walking the stages with a workload gives, step by step, the gate lines the
    runbook's walk table quotes (and the table has a row per step)."""
    taken = await walk(tmp_path)
    assert [(name, f"stage {block}", gate) for name, block, gate, _ in taken] == quoted_walk()


async def test_an_override_left_at_rampdown_shows_in_the_other_backend_check(
    tmp_path: Path,
) -> None:
    """The tenant an override kept in shadow ran on legacy: rampdown's gate counts it."""
    taken = {name: report for name, _, _, report in await walk(tmp_path)}
    report = taken["rampdown, an override left"]
    [rampdown] = [s for s in report.stages(ENV) if s.stage == "rampdown"]
    checks = {check.name: check.value for check in report.gate(rampdown).checks}
    assert checks["other backend runs"] == len(MARKED) + 1
