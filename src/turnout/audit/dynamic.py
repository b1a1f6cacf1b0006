"""`turnout audit --run`: run every node on legacy and on the target, as replay does, and
hold the static findings to what happened.

Execution and comparison are replay's (`turnout.conformance.replay.replay`): the same
path as production (`Engine.execute`), the recorded outcome checked, the target's normalized
envelope compared with legacy's. Then, per node:

- a failure the static findings predicted (`variables` undefined, `lodash` missing, a
  SyntaxError, a 30 ms timeout) confirms them; a predicted failure the target did not show
  refutes it (a refuted blocker no longer blocks: the code path did not run, at least with
  this context);
- outputs that differ only where the node's suggested `shadow_ignore` rules point confirm
  its non-determinism findings; the shadow comparison itself
  (`turnout.comparison.compare_outcomes`, with those rules) decides, exactly as the
  rollout will;
- any other difference is `run-differs` (a blocker when the target fails where legacy
  did not), and a failure on both that nothing explains is `run-fails`.

Nodes that call the network or write files are not run unless asked
(`include_side_effects`): running them twice is what the audit warns about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from turnout.audit.findings import Finding, NodeAudit
from turnout.audit.loading import NodeSource
from turnout.audit.suggestions import ignore_rule, node_rules
from turnout.audit.target import AuditTarget
from turnout.comparison import compare_outcomes
from turnout.conformance.expectations import Observation
from turnout.conformance.replay import ReplayNode, replay
from turnout.conformance.runner import CaseResult, ConformanceRunner, Progress
from turnout.engine import Engine
from turnout.flags.ignore import parse_ignore_rule
from turnout.json_diff import abbreviate

__all__ = ["run_nodes"]

_SIDE_EFFECTS = ("network-call", "file-write")
# What a failure must look like to confirm a finding of each type.
_CONFIRMING_KIND = {
    "syntax-error": "syntax",
    "typescript-syntax": "syntax",
    "import-statement": "syntax",
    "module-missing": "import",
    "timeout-units": "timeout",
}


async def run_nodes(
    engine: Engine,
    target: AuditTarget,
    audits: Sequence[NodeAudit],
    sources: Sequence[NodeSource],
    *,
    context: Mapping[str, Any] | None = None,
    include_side_effects: bool = False,
    concurrency: int = 4,
    progress: Progress | None = None,
) -> None:
    """Run the nodes and add what the runs showed to each audit (in place)."""
    legacy = target.legacy
    if legacy is None or legacy.capabilities is None:
        reason = legacy.unavailable if legacy is not None else "no legacy backend configured"
        for audit in audits:
            audit.findings.append(_skipped(f"the legacy backend cannot run here: {reason}"))
        return
    chosen: list[tuple[NodeAudit, ReplayNode, str]] = []
    for index, (audit, source) in enumerate(zip(audits, sources, strict=True)):
        effects = audit.of_type(*_SIDE_EFFECTS)
        if effects and not include_side_effects:
            what = "calls the network" if effects[0].type == "network-call" else "writes files"
            audit.findings.append(
                _skipped(
                    f"not run: it {what} (line {effects[0].line}); running it twice is what the "
                    "audit warns about (--run-side-effects runs it anyway)"
                )
            )
            continue
        given = source.context if source.context is not None else context
        node = ReplayNode(
            id=str(index),
            workflow=source.workflow,
            description="",
            line=0,
            config=source.config,
            context=dict(given or {}),
            expected=source.expected,
            expects_output=source.replay.expects_output if source.replay else False,
        )
        origin = "recorded" if source.context is not None else "given" if context else "empty"
        chosen.append((audit, node, origin))
    if not chosen:
        return
    runner = ConformanceRunner(
        engine, [legacy, target.target], concurrency=concurrency, reference=legacy.id
    )
    # The audit chose above which nodes may run twice (its own side-effect findings and
    # --run-side-effects), so replay's rule for unmarked nodes does not apply again.
    results = await replay(
        runner, [node for _, node, _ in chosen], progress=progress, run_side_effects=True
    )
    by_node: dict[str, dict[str, CaseResult]] = {}
    for result in results:
        by_node.setdefault(result.case_id, {})[result.backend] = result
    for audit, node, origin in chosen:
        ran = by_node.get(node.id, {})
        _judge(audit, node, ran.get(legacy.id), ran.get(target.name), origin, target)


def _skipped(reason: str) -> Finding:
    return Finding("run-skipped", "info", reason, "review the static findings")


def _judge(
    audit: NodeAudit,
    node: ReplayNode,
    legacy: CaseResult | None,
    candidate: CaseResult | None,
    origin: str,
    target: AuditTarget,
) -> None:
    if legacy is None or candidate is None or not legacy.observation or not candidate.observation:
        failed = candidate if candidate is not None and not candidate.observation else legacy
        audit.findings.append(_skipped(f"could not run: {failed.reason if failed else '?'}"))
        return
    before, after = legacy.observation, candidate.observation
    audit.run = {
        "context": origin,
        "legacy": before.summary(),
        "target": after.summary(),
        "same": not candidate.differences,
        "differences": list(candidate.differences),
        "recorded_outcome": list(candidate.problems),
    }
    explained = _confirm_failures(audit, after)
    if before.error is None and after.error is None:
        _judge_outputs(audit, before, after, candidate)
        return
    if before.error is not None and after.error is not None:
        recorded = node.expected is not None and node.expected.error is not None
        if candidate.differences:
            finding = Finding(
                "run-differs",
                "attention",
                f"fails on both backends, differently: legacy {before.summary()}; "
                f"{target.name} {after.summary()}",
                "fix the node; then check that both fail (or succeed) the same way",
                line=after.error.line,
            )
        elif explained or (recorded and not candidate.problems):
            return
        else:
            finding = Finding(
                "run-fails",
                "attention",
                f"fails the same way on both backends: {after.summary()}",
                "fix the node (or its context); the migration does not change it",
                line=after.error.line,
            )
    elif after.error is not None:
        finding = Finding(
            "run-differs",
            "blocker",
            f"works on legacy, fails on {target.name}: {after.summary()}",
            "fix what the other findings say, or keep the workflow on legacy",
            line=after.error.line,
        )
    else:
        finding = Finding(
            "run-differs",
            "attention",
            f"fails on legacy ({before.summary()}) and works on {target.name}",
            "check that the target's result is the one the workflow expects",
        )
    audit.findings.append(finding)


def _confirm_failures(audit: NodeAudit, after: Observation) -> bool:
    """Mark each failure-predicting finding confirmed or refuted by the target's run;
    whether any was confirmed."""
    error = after.error
    confirmed = False
    for index, finding in enumerate(audit.findings):
        if finding.type == "undefined-global":
            name = finding.message.split("`")[1]
            hit = error is not None and name in error.message
        elif finding.type in ("config-invalid", "language-unsupported", "output-variable"):
            if finding.severity != "blocker":
                continue
            hit = error is not None and error.type == "ValidationError"
        elif finding.type in _CONFIRMING_KIND:
            if finding.severity == "info":
                continue
            module = (finding.module or "").removeprefix("node:").split("/")[0]
            hit = (
                error is not None
                and error.kind == _CONFIRMING_KIND[finding.type]
                and module in error.message
            )
        else:
            continue
        evidence = error.summary() if error is not None and hit else after.summary()
        audit.findings[index] = finding.judged("confirmed" if hit else "refuted", evidence)
        confirmed = confirmed or hit
    return confirmed


def _judge_outputs(
    audit: NodeAudit, before: Observation, after: Observation, candidate: CaseResult
) -> None:
    """Both runs succeeded: would a shadow comparison, with the node's suggested rules,
    call them a mismatch?"""
    assert before.envelope is not None
    assert after.envelope is not None
    raw = compare_outcomes(dict(before.envelope), dict(after.envelope))
    for index, finding in enumerate(audit.findings):
        if finding.type != "nondeterminism" or not finding.paths:
            continue
        rules = [parse_ignore_rule(ignore_rule(path)) for path in finding.paths]
        seen = [d.to_log()["path"] for d in raw.mismatches if any(r.matches(d.path) for r in rules)]
        audit.findings[index] = (
            finding.judged("confirmed", f"the two runs differed at {', '.join(seen[:3])}")
            if seen
            else finding.judged("refuted", "the two runs gave the same values there")
        )
    rules = [parse_ignore_rule(rule) for rule in node_rules(audit)]
    left = compare_outcomes(dict(before.envelope), dict(after.envelope), rules).mismatches
    if not left:
        return
    where = ", ".join(d.to_log()["path"] for d in left[:3])
    if not candidate.differences:
        # replay's differential masks current-time readings: these are times, not a bug
        audit.findings.append(
            Finding(
                "nondeterminism",
                "attention",
                f"the two runs gave different current-time values at {where}",
                "ignore these paths in shadow comparisons (the suggested shadow_ignore rules)",
                paths=tuple(d.path for d in left),
                observed="confirmed",
                evidence="seen with --run",
            )
        )
        return
    audit.findings.append(
        Finding(
            "run-differs",
            "blocker",
            f"legacy and the target gave different results at {where}: "
            f"{abbreviate(candidate.differences[0], 160, quote=False)}",
            "find out why (a shadow comparison counts it as a mismatch), fix the node or the "
            "target, or keep the workflow on legacy",
        )
    )
