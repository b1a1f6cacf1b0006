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
`message_contains`). `ignore` (optional) lists what this node may legitimately change from
run to run (`output.requestId`, `output.items[*].id`, `stdout`; see `IgnorePath`): those
places are compared neither with `expected` nor across backends.

Every node runs on every backend through the same path as conformance cases. A node passes
on a backend when it matches `expected` (if given) and, on a target, when its normalized
envelope equals the reference backend's (see `differential`). Readings of the current time
(`turnout.timemask`: ISO dates and date-times, epoch seconds to nanoseconds, also inside
longer strings such as `'saga_' + Date.now()`) are compared by kind only, in the output,
stdout and stderr alike: a reading in this run matches any reading of the same kind at the
same place in `expected`, which was recorded at another time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from turnout.conformance.backends import BackendUnderTest
from turnout.conformance.differential import IgnorePath, apply_ignores, normalize
from turnout.conformance.expectations import Observation
from turnout.conformance.report import ParityReport, ReportItem
from turnout.conformance.runner import CaseResult, ConformanceRunner, Progress, Status
from turnout.errors import ValidationError
from turnout.field_errors import field_problems, summarize
from turnout.json_diff import abbreviate, first_difference
from turnout.normalization import describe_differences
from turnout.timemask import mask_time, matches_masked

__all__ = [
    "ExpectedOutcome",
    "ReplayNode",
    "load_corpus",
    "matches_expected",
    "one_backend_only",
    "replay",
    "replay_report",
    "side_effect_free",
]


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


def _ignore_path(text: str) -> str:
    IgnorePath.parse(text)
    return text


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    id: str | None = Field(default=None, min_length=1)
    workflow: str | None = Field(default=None, min_length=1)
    description: str = ""
    config: dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict)
    expected: ExpectedOutcome | None = None
    ignore: list[Annotated[str, AfterValidator(_ignore_path)]] = Field(default_factory=list)


@dataclass(frozen=True)
class ReplayNode:
    """One exported node, ready to run. `context_recorded` says whether the line gave a
    context (without one, `context` is `{}`)."""

    id: str
    workflow: str
    description: str
    line: int
    config: Mapping[str, Any]
    context: Mapping[str, Any]
    expected: ExpectedOutcome | None
    expects_output: bool
    ignore: tuple[IgnorePath, ...] = ()
    context_recorded: bool = True

    def ignores(self, field: str) -> bool:
        """Whether the whole `field` (`stdout`, `error.message`, `output`) is ignored."""
        return any(path.field == field and not path.steps for path in self.ignore)


def load_corpus(path: Path) -> list[ReplayNode]:
    """Parse a JSON-lines corpus; blank lines are skipped, any other problem is a
    `ValidationError` naming `FILE:LINE`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        # ValueError covers undecodable bytes and a path with a NUL byte in it.
        raise ValidationError(repr(str(path)), f"cannot be read: {exc}") from None
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
        except RecursionError:
            raise ValidationError(
                where,
                "is nested too deeply to read",
                "JSON nested at most a few hundred levels deep",
            ) from None
        if not isinstance(data, dict):
            raise ValidationError(where, "each line must be a JSON object")
        try:
            line = _Line.model_validate(data)
        except pydantic.ValidationError as exc:
            problems = summarize(field_problems(exc, schema=_Line))
            raise ValidationError(
                where,
                problems,
                "keys id, workflow, description, config, context, expected, ignore",
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
                ignore=tuple(IgnorePath.parse(path) for path in line.ignore),
                context_recorded="context" in line.model_fields_set,
            )
        )
    if not nodes:
        raise ValidationError(str(path), "holds no nodes")
    return nodes


def _recorded_difference(recorded: Any, actual: Any, now: float, path: str) -> str | None:
    """Where a value of this run first differs from the recorded one, readings of the
    current time in this run matching any reading of the same kind at the same place."""
    if isinstance(recorded, dict) and isinstance(actual, dict) and set(recorded) == set(actual):
        for key in recorded:
            where = f"{path}[{json.dumps(key)}]"
            found = _recorded_difference(recorded[key], actual[key], now, where)
            if found:
                return found
        return None
    if isinstance(recorded, list) and isinstance(actual, list) and len(recorded) == len(actual):
        for index, (left, right) in enumerate(zip(recorded, actual, strict=True)):
            found = _recorded_difference(left, right, now, f"{path}[{index}]")
            if found:
                return found
        return None
    masked = mask_time(actual, now)
    if masked == actual or isinstance(actual, dict | list):
        return first_difference(recorded, actual, path)
    same_type = isinstance(actual, str) == isinstance(recorded, str)
    if same_type and matches_masked(masked, recorded):
        return None
    return (
        f"{path}: expected {abbreviate(recorded)}, got {abbreviate(masked)} (current times "
        "compared by kind)"
    )


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
        if wanted.name is not None and error.name != wanted.name and not node.ignores("error.name"):
            problems.append(f"error name: expected {wanted.name!r}, got {error.name!r}")
        if not node.ignores("error.message"):
            problems.extend(
                f"error message lacks {text!r}"
                for text in wanted.message_contains
                if text not in error.message
            )
    elif error is not None:
        return [f"expected success, got {error.summary()}"]
    elif node.expects_output and not node.ignores("output"):
        output = (observation.envelope or {}).get("output")
        recorded = apply_ignores({"output": expected.output}, node.ignore)["output"]
        actual = apply_ignores({"output": output}, node.ignore)["output"]
        found = _recorded_difference(recorded, actual, moment, "output")
        if found:
            problems.append(found)
    for stream in ("stdout", "stderr"):
        wanted_text: str | None = getattr(expected, stream)
        if wanted_text is not None and not node.ignores(stream):
            found = _recorded_difference(wanted_text, getattr(observation, stream), moment, stream)
            if found:
                problems.append(found)
    return problems


def side_effect_free(node: ReplayNode) -> bool:
    """Whether the node's stored config is marked safe to run twice (`sideEffectFree`)."""
    return node.config.get("sideEffectFree") is True


def one_backend_only(reference: str) -> str:
    """Why a node not marked side-effect-free did not run on a target."""
    return (
        f"not marked side-effect-free: run on {reference} only, so that its side effects "
        "(an HTTP call, a write) happen once; --run-side-effects runs it on every backend"
    )


async def replay(
    runner: ConformanceRunner,
    nodes: Sequence[ReplayNode],
    *,
    progress: Progress | None = None,
    run_side_effects: bool = False,
) -> list[CaseResult]:
    """Run every node on every backend (sequentially per node, concurrently across nodes)
    and judge each: recorded expectation, then the differential against the reference.

    A node not marked side-effect-free runs on the reference only, unless
    `run_side_effects`: on the targets it is skipped with the reason, and that skip
    blocks the verdict like any other (nothing shows the target runs it the same)."""
    total = len(nodes) * len(runner.backends)
    done = 0
    slots = asyncio.Semaphore(runner.concurrency)

    async def one(node: ReplayNode, backend: BackendUnderTest) -> tuple[ReplayNode, CaseResult]:
        nonlocal done
        async with slots:
            once = not run_side_effects and not side_effect_free(node)
            if once and backend.id != runner.reference:
                result = CaseResult(
                    node.id, node.workflow, backend.id, "skip", one_backend_only(runner.reference)
                )
            elif backend.capabilities is None:
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
    ignores = {node.id: node.ignore for node in nodes}
    return _differential([result for _, result in pairs], runner.reference, ignores)


def _differential(
    results: Sequence[CaseResult],
    reference: str,
    ignores: Mapping[str, Sequence[IgnorePath]],
) -> list[CaseResult]:
    now = time.time()
    base = {r.case_id: r for r in results if r.backend == reference and r.observation}
    judged = []
    for result in results:
        ref = base.get(result.case_id)
        if result.backend != reference and ref and ref.observation and result.observation:
            ignore = ignores.get(result.case_id, ())
            differences = describe_differences(
                apply_ignores(normalize(ref.observation, now=now), ignore),
                apply_ignores(normalize(result.observation, now=now), ignore),
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
    flag_target: str | None = None,
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
        kind="replay",
        reference=reference,
        backends=backends,
        items=items,
        source=source,
        flag_target=flag_target,
    )
