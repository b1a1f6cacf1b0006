"""End to end: a simulated production batch with a 10% live split and shadow on, read back.

What the rollout report promises: executions run through `turnout.Engine` on real backends (legacy
`local-subprocess`, target `e2b` against the local E2B-compatible server), the structlog
output goes to a file as JSON lines, and `turnout rollout report` on that file gives the
counts the flags predict. The expectation is computed from the flags themselves
(`turnout.flags.decide`, the same sticky murmur3 buckets), never hard-coded, so the test
checks that what ran, what was logged and what the report counts all agree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from turnout import Engine
from turnout.cli import rollout as rollout_command
from turnout.errors import CodeExecutionError
from turnout.flags import Decision, FlagFile, decide, parse_flags
from turnout.log_output import reset as reset_logging
from turnout.logging import configure_logging
from turnout.models import CodeNodeConfig, parse_config
from turnout.registry import default_registry
from turnout.rollout import RolloutReport, StageStats, read_report

pytestmark = [pytest.mark.usefixtures("e2b_url"), pytest.mark.slow]

ENVIRONMENT = "production"
LEGACY, TARGET = "local-subprocess", "e2b"
EXECUTIONS = 120
CHUNK = 8  # executions in flight (their shadows may still run while the next chunk starts)

FLAGS = """
schema_version = 1

[environments.production]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "shadow"
shadow_sample_percent = 100
bucket_by = ["tenant"]
rollout = { live = 10 }
"""


@dataclass(frozen=True)
class Node:
    """One kind of code node in the batch, and how it ends on either backend."""

    name: str
    config: CodeNodeConfig
    fails: bool


def _node(name: str, language: str, code: str, *, side_effect_free: bool, fails: bool) -> Node:
    config = parse_config(
        {
            "language": language,
            "code": code,
            "inputVariables": ["n"],
            "sideEffectFree": side_effect_free,
        }
    )
    return Node(name, config, fails)


NODES = (
    _node(
        "python ok",
        "python",
        "print('n is', n)\nreturn {'double': n * 2, 'tags': ['a', 'b']}",
        side_effect_free=True,
        fails=False,
    ),
    _node(
        "python user error",
        "python",
        "raise ValueError(f'bad input {n}')",
        side_effect_free=True,
        fails=True,
    ),
    _node(
        "javascript ok",
        "javascript",
        "console.log('n is', n); return {double: n * 2, half: n / 2}",
        side_effect_free=True,
        fails=False,
    ),
    _node(
        "javascript user error",
        "javascript",
        "throw new TypeError('bad input ' + n)",
        side_effect_free=True,
        fails=True,
    ),
    _node(
        "python not side-effect-free",
        "python",
        "return n + 1",
        side_effect_free=False,
        fails=False,
    ),
)


def tenant(index: int) -> str:
    return f"t{index}"


def node(index: int) -> Node:
    return NODES[index % len(NODES)]


@dataclass
class Expected:
    """What the report must count for one stage, derived from the flags' decisions."""

    executions: int = 0
    comparisons: int = 0
    runs: Counter[str] = field(default_factory=Counter)
    user_errors: Counter[str] = field(default_factory=Counter)

    def add(self, decision: Decision, fails: bool) -> None:
        """Count one execution the flags decided, on every backend it runs on."""
        self.executions += 1
        ran = [decision.authoritative]
        if decision.shadow and decision.candidate is not None:
            self.comparisons += 1
            ran.append(decision.candidate)
        for backend in ran:
            self.runs[backend] += 1
            self.user_errors[backend] += fails


def expected_counts(flags: FlagFile) -> dict[str, Expected]:
    """Per stage, what the batch must produce: the flags' own decision for each tenant."""
    environment = flags.environment(ENVIRONMENT)
    expected: dict[str, Expected] = {}
    for index in range(EXECUTIONS):
        kind = node(index)
        decision = decide(
            environment,
            tenant_id=tenant(index),
            execution_key=f"exec-{index}",
            side_effect_free=kind.config.side_effect_free,
        )
        expected.setdefault(decision.stage, Expected()).add(decision, kind.fails)
    return expected


@pytest.fixture
def flags() -> FlagFile:
    """The flag file under test, validated against the installed backends."""
    return parse_flags(FLAGS, source="e2e-flags.toml", known_backends=default_registry().ids)


@pytest.fixture
def json_log(tmp_path: Path) -> Iterator[Path]:
    """turnout's events as JSON lines in a file for the test's duration, as in production."""
    path = tmp_path / "turnout.log"
    with path.open("w", encoding="utf-8") as stream:
        configure_logging(ENVIRONMENT, json_lines=True, stream=stream)
        try:
            yield path
        finally:
            reset_logging()


async def run_batch(engine: Engine) -> Counter[str]:
    """Run every execution (CHUNK at a time) and count how each ended for the caller."""

    async def one(index: int) -> str:
        kind = node(index)
        try:
            await engine.execute(
                kind.config,
                {"n": index},
                labels={"tenant": tenant(index), "execution": f"exec-{index}"},
            )
        except CodeExecutionError:
            return "user error"
        return "ok"

    outcomes: Counter[str] = Counter()
    for start in range(0, EXECUTIONS, CHUNK):
        chunk = range(start, min(EXECUTIONS, start + CHUNK))
        outcomes.update(await asyncio.gather(*(one(index) for index in chunk)))
    return outcomes


def cli_report(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`turnout rollout report PATH --json --env production`, parsed."""
    parser = argparse.ArgumentParser(prog="turnout")
    rollout_command.register(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(["rollout", "report", str(path), "--json", "--env", ENVIRONMENT])
    assert arguments.handler(arguments) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def assert_stage(stats: StageStats, expected: Expected) -> None:
    """One stage's counters equal the expectation; identical behaviour, so no mismatch."""
    assert stats.executions == expected.executions
    assert stats.comparisons == expected.comparisons
    assert stats.shadow_runs == expected.comparisons
    assert (stats.matches, stats.mismatches, stats.shed, stats.shadow_failures) == (
        expected.comparisons,
        0,
        0,
        0,
    )
    assert stats.fallbacks == 0
    assert stats.target_backend == TARGET
    runs = {name: tally.runs for name, tally in stats.backends.items()}
    assert runs == dict(expected.runs)
    for name, tally in stats.backends.items():
        assert tally.user_errors == expected.user_errors[name]
        assert (tally.infrastructure_errors, tally.invalid) == (0, 0)
        assert tally.ok == tally.runs - tally.user_errors


class TestProductionBatch:
    async def test_report_counts_what_the_flags_decided(
        self, flags: FlagFile, json_log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A 10% live / 90% shadow batch on real backends is reported with the right counts."""
        expected = expected_counts(flags)
        assert set(expected) == {"live", "shadow"}  # the tenants fall on both sides
        # A budget no batch can exhaust: shedding is tested elsewhere, here every shadow counts.
        engine = Engine(ENVIRONMENT, flags=flags, shadow_budget=EXECUTIONS)
        try:
            outcomes = await run_batch(engine)
        finally:
            await engine.aclose()  # waits for the shadow runs and their comparisons

        failing = sum(node(index).fails for index in range(EXECUTIONS))
        assert outcomes == Counter({"user error": failing, "ok": EXECUTIONS - failing})
        report = read_report(json_log, environment=ENVIRONMENT)
        stages = report.blocks(ENVIRONMENT)  # one flag configuration: blocks named by stage
        assert set(stages) == set(expected)
        for stage, stats in stages.items():
            assert_stage(stats, expected[stage])
        comparisons = sum(e.comparisons for e in expected.values())
        shadow_runs = comparisons
        assert report.events == EXECUTIONS + shadow_runs + comparisons
        assert_cli_agrees(report, cli_report(json_log, capsys))


def assert_cli_agrees(report: RolloutReport, printed: dict[str, Any]) -> None:
    """The CLI's JSON is the function's report, gates included."""
    assert printed == json.loads(json.dumps(report.to_dict()))
    for stage in printed["environments"][ENVIRONMENT]["stages"].values():
        assert stage["gate"]["met"] is False  # a two-minute batch is no 24-hour evidence
