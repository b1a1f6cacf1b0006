"""Audit nodes: each node's config and code judged against the target, one `NodeAudit` each.

This is the static part, and all of it: no node is executed here (`dynamic` runs them
with `--run`). Every node is read, validated with the config model's own rules, and its
code parsed by the analysis of its language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from turnout.audit.code_checks import NodeInputs, judge_code
from turnout.audit.config_checks import check_config
from turnout.audit.findings import NodeAudit, NodeRef
from turnout.audit.javascript_code import analyze_javascript
from turnout.audit.loading import NodeSource
from turnout.audit.python_code import analyze_python
from turnout.audit.target import AuditTarget

__all__ = ["audit_node", "audit_nodes"]

_PARSED = frozenset({"javascript", "typescript", "python"})


def audit_nodes(
    sources: Sequence[NodeSource],
    target: AuditTarget,
    *,
    context: Mapping[str, Any] | None = None,
) -> list[NodeAudit]:
    """Audit every node; `context` stands in for nodes without a recorded one."""
    return [audit_node(source, target, context=context) for source in sources]


def audit_node(
    source: NodeSource, target: AuditTarget, *, context: Mapping[str, Any] | None = None
) -> NodeAudit:
    """Audit one node: its config, then (if it has code in a language turnout can parse)
    its code, judged against its inputs and the target."""
    raw = source.config
    language = raw.get("language") if isinstance(raw.get("language"), str) else "?"
    audit = NodeAudit(NodeRef(source.id, source.workflow, source.location, str(language)))
    verdict = check_config(raw, target)
    audit.findings.extend(verdict.findings)
    code = raw.get("code")
    if not isinstance(code, str) or not code or language not in _PARSED:
        return audit
    facts = (
        analyze_python(code)
        if language == "python"
        else analyze_javascript(code, typescript=language == "typescript")
    )
    config = verdict.config
    listed = raw.get("inputVariables")
    input_variables = (
        config.input_variables
        if config is not None
        else [name for name in listed if isinstance(name, str)]
        if isinstance(listed, list)
        else []
    )
    inputs = NodeInputs.of(
        input_variables,
        source.context if source.context is not None else context,
        side_effect_free=raw.get("sideEffectFree") is True,
        output_variable=config.output_variable if config is not None else None,
        expected=source.expected,
    )
    audit.findings.extend(judge_code(facts, inputs, target))
    return audit
