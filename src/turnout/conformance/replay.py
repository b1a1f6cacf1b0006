"""Replay real code nodes exported from the platform, on every backend, and compare.

Before a stage change, the platform exports the code nodes its workflows really use, with
sample contexts, as JSON lines. Each line is one node:

    {"id": "invoices/parse-total", "workflow": "invoices",
     "config": {"language": "javascript", "code": "return {total: items.length}"},
     "context": {"items": [1, 2]},
     "expected": {"output": {"total": 2}}}

`config` (required) is the node's stored config and `context` (default `{}`) the workflow
context; `id` (default `line-N`), `workflow` (groups nodes in the report; default: the
file's name) and `description` are optional. `expected` (optional) is what the node gave in
production: any of `output`, `stdout`, `stderr`, or `error` (`type`, `kind`, `name`,
`message_contains`).

Every node runs on every backend through the same path as conformance cases. A node passes
on a backend when it matches `expected` (if given) and, on a target, when its normalized
envelope equals the reference backend's (see `differential`). Values that embed the current
time are compared by shape only: an output value that is a current ISO date-time or epoch
reading matches any value of that kind in `expected`, and every ISO date-time inside
expected/actual printed text is compared as `<iso-datetime>`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from turnout.conformance.backends import BackendUnderTest
from turnout.conformance.differential import compare, iso_moment, normalize
from turnout.conformance.expectations import (
    Observation,
    abbreviate,
    first_difference,
    is_iso_datetime,
)
from turnout.conformance.report import ParityReport, ReportItem
from turnout.conformance.runner import CaseResult, ConformanceRunner, Progress, Status
from turnout.errors import ValidationError
from turnout.field_errors import field_problems, summarize

__all__ = [
    "ExpectedOutcome",
    "ReplayNode",
    "load_corpus",
    "matches_expected",
    "replay",
    "replay_report",
]

_ISO_ANYWHERE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"
)
NOW_WINDOW_S = 24 * 3600


class ExpectedError(BaseModel):
    """The error a node raised in production."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    type: str = "CodeExecutionError"
    kind: str | None = None
    name: str | None = None
    message_contains: list[str] = Field(default_factory=list)


class ExpectedOutcome(BaseModel):
    """What a node gave in production; only the keys present are compared."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    output: Any = None
    stdout: str | None = None
    stderr: str | None = None
    error: ExpectedError | None = None


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = Field(default=None, min_length=1)
    workflow: str | None = Field(default=None, min_length=1)
    description: str = ""
    config: dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict)
    expected: ExpectedOutcome | None = None


@dataclass(frozen=True)
class ReplayNode:
    """One exported node, ready to run."""

    id: str
    workflow: str
    description: str
    line: int
    config: Mapping[str, Any]
    context: Mapping[str, Any]
    expected: ExpectedOutcome | None
    expects_output: bool


def load_corpus(path: Path) -> list[ReplayNode]:
    """Parse a JSON-lines corpus; blank lines are skipped, any other problem is a
    `ValidationError` naming `FILE:LINE`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(str(path), f"cannot be read: {exc}") from None
    nodes: list[ReplayNode] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValidationError(where, f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValidationError(where, "each line must be a JSON object")
        try:
            line = _Line.model_validate(data)
        except pydantic.ValidationError as exc:
            problems = summarize(field_problems(exc, schema=_Line))
            raise ValidationError(
                where, problems, "keys id, workflow, description, config, context, expected"
            ) from None
        node_id = line.id or f"line-{number}"
        if node_id in seen:
            raise ValidationError(where, f"id {node_id!r} is used by an earlier line")
        seen.add(node_id)
        expected = line.expected
        nodes.append(
            ReplayNode(
                id=node_id,
                workflow=line.workflow or path.stem,
                description=line.description,
                line=number,
                config=line.config,
                context=line.context,
                expected=expected,
                expects_output=expected is not None and "output" in expected.model_fields_set,
            )
        )
    if not nodes:
        raise ValidationError(str(path), "holds no nodes")
    return nodes


def _current(value: Any, now: float) -> str | None:
    """The kind of current-time reading `value` is (None: it is not one)."""
    if isinstance(value, str) and is_iso_datetime(value):
        moment = iso_moment(value)
        if moment is not None and abs(moment - now) <= NOW_WINDOW_S:
            return "iso-datetime"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if abs(value / 1000 - now) <= NOW_WINDOW_S:
            return "epoch-ms"
        if abs(value - now) <= NOW_WINDOW_S:
            return "epoch-s"
    return None


def _same_kind(expected: Any, kind: str) -> bool:
    if kind == "iso-datetime":
        return isinstance(expected, str) and is_iso_datetime(expected)
    if isinstance(expected, bool) or not isinstance(expected, int | float):
        return False
    return expected > 1e11 if kind == "epoch-ms" else 1e8 < expected < 1e11


def _output_difference(expected: Any, actual: Any, now: float, path: str = "output") -> str | None:
    kind = _current(actual, now)
    if kind is not None:
        if _same_kind(expected, kind):
            return None
        return f"{path}: expected a value like {abbreviate(expected)}, got a {kind} reading"
    if isinstance(expected, dict) and isinstance(actual, dict) and set(expected) == set(actual):
        for key in expected:
            found = _output_difference(
                expected[key], actual[key], now, f"{path}[{json.dumps(key)}]"
            )
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            found = _output_difference(left, right, now, f"{path}[{index}]")
            if found:
                return found
        return None
    return first_difference(expected, actual, path)


def _text(text: str) -> str:
    return _ISO_ANYWHERE.sub("<iso-datetime>", text)


def matches_expected(
    node: ReplayNode, observation: Observation, *, now: float | None = None
) -> list[str]:
    """Every way `observation` differs from the node's recorded `expected` outcome."""
    expected = node.expected
    if expected is None:
        return []
    moment = time.time() if now is None else now
    problems: list[str] = []
    error = observation.error
    if expected.error is not None:
        wanted = expected.error
        if error is None:
            return [f"expected {wanted.type} ({wanted.kind}), got {observation.summary()}"]
        if error.type != wanted.type or (wanted.kind is not None and error.kind != wanted.kind):
            problems.append(f"expected {wanted.type} ({wanted.kind}), got {error.summary()}")
        if wanted.name is not None and error.name != wanted.name:
            problems.append(f"error name: expected {wanted.name!r}, got {error.name!r}")
        problems.extend(
            f"error message lacks {text!r}"
            for text in wanted.message_contains
            if text not in error.message
        )
    elif error is not None:
        return [f"expected success, got {error.summary()}"]
    elif node.expects_output:
        output = (observation.envelope or {}).get("output")
        found = _output_difference(expected.output, output, moment)
        if found:
            problems.append(found)
    for stream in ("stdout", "stderr"):
        wanted_text: str | None = getattr(expected, stream)
        if wanted_text is not None:
            found = first_difference(
                _text(wanted_text), _text(getattr(observation, stream)), stream
            )
            if found:
                problems.append(found)
    return problems


async def replay(
    runner: ConformanceRunner, nodes: Sequence[ReplayNode], *, progress: Progress | None = None
) -> list[CaseResult]:
    """Run every node on every backend (sequentially per node, concurrently across nodes)
    and judge each: recorded expectation, then the differential against the reference."""
    total = len(nodes) * len(runner.backends)
    done = 0
    slots = asyncio.Semaphore(runner.concurrency)

    async def one(node: ReplayNode, backend: BackendUnderTest) -> tuple[ReplayNode, CaseResult]:
        nonlocal done
        async with slots:
            if backend.capabilities is None:
                result = CaseResult(
                    node.id,
                    node.workflow,
                    backend.id,
                    "error",
                    f"backend unavailable: {backend.unavailable}",
                )
            else:
                observation = await runner.run_node(
                    backend.id, node.config, node.context, labels={"suite": "replay"}
                )
                problems = matches_expected(node, observation)
                status: Status = "fail" if problems else "pass"
                result = CaseResult(
                    node.id,
                    node.workflow,
                    backend.id,
                    status,
                    problems[0] if problems else "",
                    tuple(problems),
                    wall_ms=observation.wall_ms,
                    observation=observation,
                    raw_status=status,
                )
        done += 1
        if progress is not None:
            progress(done, total, result)
        return node, result

    pairs = await asyncio.gather(
        *(one(node, backend) for node in nodes for backend in runner.backends)
    )
    return _differential([result for _, result in pairs], runner.reference)


def _differential(results: Sequence[CaseResult], reference: str) -> list[CaseResult]:
    now = time.time()
    base = {r.case_id: r for r in results if r.backend == reference and r.observation}
    judged = []
    for result in results:
        ref = base.get(result.case_id)
        if result.backend != reference and ref and ref.observation and result.observation:
            differences = compare(
                normalize(ref.observation, now=now),
                normalize(result.observation, now=now),
                names=(reference, result.backend),
            )
            if differences:
                reason = result.reason or f"differs from {reference}: {differences[0]}"
                result = replace(
                    result,
                    status="fail",
                    raw_status="fail",
                    reason=reason,
                    differences=tuple(differences),
                )
        judged.append(result)
    return judged


def replay_report(
    nodes: Sequence[ReplayNode],
    results: Sequence[CaseResult],
    *,
    backends: Sequence[BackendUnderTest],
    reference: str,
    source: str,
) -> ParityReport:
    """The parity report of a replay: one row per node, the same verdict rule."""
    by_node: dict[str, dict[str, CaseResult]] = {}
    for result in results:
        by_node.setdefault(result.case_id, {})[result.backend] = result
    order = {backend.id: index for index, backend in enumerate(backends)}
    items = [
        ReportItem(
            node.id,
            node.workflow,
            node.description,
            dict(sorted(by_node.get(node.id, {}).items(), key=lambda kv: order.get(kv[0], 0))),
        )
        for node in nodes
    ]
    return ParityReport.build(
        kind="replay", reference=reference, backends=backends, items=items, source=source
    )
