"""Judge what a node's code does (`CodeFacts`) against its inputs and the target.

One set of rules for both languages: an analysis reports facts, this module decides which
are blockers (the node will fail on the target), which need attention (it works, but the
rollout must know: side effects that shadow would repeat, values that differ on every run)
and which are notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from turnout.audit.facts import CodeFacts, Sighting
from turnout.audit.findings import Finding
from turnout.audit.suggestions import describe_paths, install_name
from turnout.audit.target import AuditTarget
from turnout.conformance.replay import ExpectedOutcome
from turnout.models import Language
from turnout.packages import module_root

__all__ = ["RUNTIME_GLOBALS", "NodeInputs", "judge_code"]

#: Globals other executors of the platform offered and turnout's do not: reading one is a
#: ReferenceError / NameError unless the context happens to have that key.
RUNTIME_GLOBALS = {
    "variables": "workflow variables",
    "shared": "state shared between runs",
}


@dataclass(frozen=True)
class NodeInputs:
    """What the node's code will find as inputs: `names` (None when unknown: no
    inputVariables and no recorded context) and where that knowledge comes from."""

    names: frozenset[str] | None
    source: str
    side_effect_free: bool = False
    output_variable: str | None = None
    expected: ExpectedOutcome | None = None

    @classmethod
    def of(
        cls,
        input_variables: list[str],
        context: Mapping[str, Any] | None,
        **extra: Any,
    ) -> NodeInputs:
        if input_variables and context is not None:
            names = frozenset(input_variables) & frozenset(context)
            return cls(names, "inputVariables present in the context", **extra)
        if input_variables:
            return cls(frozenset(input_variables), "inputVariables", **extra)
        if context is not None:
            return cls(frozenset(context), "the context's keys", **extra)
        return cls(None, "unknown: no inputVariables and no recorded context", **extra)


def judge_code(facts: CodeFacts, inputs: NodeInputs, target: AuditTarget) -> list[Finding]:
    """Every finding the facts call for, in line order within each kind."""
    if facts.syntax_error is not None:
        error = facts.syntax_error
        return [
            Finding(
                "syntax-error",
                "blocker",
                f"the code does not parse: {error.name}",
                "correct the code: it fails with a SyntaxError on every backend",
                line=error.line,
            )
        ]
    language: Language = "python" if facts.language == "python" else "javascript"
    findings = [
        Finding(
            "typescript-syntax",
            "blocker",
            f"{construct.name} (`{construct.detail}`): TypeScript, a SyntaxError in JavaScript",
            "remove the TypeScript syntax (turnout runs the node as JavaScript), or strip the "
            "types before storing it",
            line=construct.line,
        )
        for construct in facts.typescript
    ]
    findings += _globals(facts, inputs)
    findings += _modules(facts, language, inputs, target)
    findings += _side_effects(facts, inputs, target)
    findings += _nondeterminism(facts)
    findings += _output_variable(facts, inputs)
    return findings


def _globals(facts: CodeFacts, inputs: NodeInputs) -> list[Finding]:
    findings = []
    known = inputs.names
    for read in facts.globals_read:
        if known is not None and read.name in known:
            continue
        platform = RUNTIME_GLOBALS.get(read.name)
        if read.detail:  # `from m import *` may define it: nothing certain to say
            findings.append(
                Finding(
                    "context-global",
                    "info",
                    f"reads `{read.name}`, which `{read.detail}` may define (else it must be "
                    "a key of the context)",
                    f"import `{read.name}` by name, so the audit can check it",
                    line=read.line,
                )
            )
        elif known is not None or platform is not None:
            why = (
                f"({platform}), a global of other executors that no turnout backend defines"
                if platform
                else f", which is neither an input ({inputs.source}) nor a global the runtime "
                "defines"
            )
            error = "NameError" if facts.language == "python" else "ReferenceError"
            findings.append(
                Finding(
                    "undefined-global",
                    "blocker",
                    f"reads `{read.name}`{' ' if platform else ''}{why}: a {error} at this line",
                    f"pass `{read.name}` in the workflow context (and in inputVariables if the "
                    f"node lists them), or define it in the code",
                    line=read.line,
                )
            )
        else:
            findings.append(
                Finding(
                    "context-global",
                    "info",
                    f"reads `{read.name}`, which must be a key of the workflow context (no "
                    "inputVariables and no recorded context to check it against)",
                    f"make sure every workflow running this node provides `{read.name}`, or "
                    "audit with --context",
                    line=read.line,
                )
            )
    if known is not None:
        for read in facts.inputs_read:
            if read.name not in known:
                findings.append(
                    Finding(
                        "missing-input",
                        "attention",
                        f"reads `{read.detail}`, but `{read.name}` is not an input "
                        f"({inputs.source}): it is undefined (KeyError in Python)",
                        f"add `{read.name}` to the context (and inputVariables), or guard the read",
                        line=read.line,
                    )
                )
    return findings


def _modules(
    facts: CodeFacts, language: Language, inputs: NodeInputs, target: AuditTarget
) -> list[Finding]:
    findings: list[Finding] = []
    judged: set[str] = set()
    for module in facts.modules:
        if module.detail == "esm":
            findings.append(
                Finding(
                    "import-statement",
                    "blocker",
                    f"an ES module `import` of `{module.name}`: a code node is a function body, "
                    "where `import` is a SyntaxError",
                    f"write `const x = require('{module.name}')` instead",
                    line=module.line,
                    module=module.name or None,
                )
            )
            continue
        if module.detail == "relative":
            findings.append(
                Finding(
                    "module-missing",
                    "blocker",
                    f"imports the local file `{module.name}`: no backend has files beside a node",
                    "inline the code it needs",
                    line=module.line,
                )
            )
            continue
        if module.detail == "dynamic":
            findings.append(
                Finding(
                    "module-unverified",
                    "attention",
                    "loads a module whose name is computed: the audit cannot check it",
                    "use a literal module name, or check by hand that the target has it",
                    line=module.line,
                )
            )
            continue
        root = module_root(language, module.name)
        if root in judged:
            continue
        judged.add(root)
        finding = _module(module, root, language, inputs, target)
        if finding is not None:
            findings.append(finding)
    return findings


def _module(
    module: Sighting, root: str, language: Language, inputs: NodeInputs, target: AuditTarget
) -> Finding | None:
    provided = target.provides(language, module.name)
    if provided:
        return None
    if provided is None:
        return Finding(
            "module-unverified",
            "attention",
            f"imports `{module.name}`; {target.name} declares no {language} packages to check "
            "it against",
            f"check that {target.name} provides `{root}`",
            line=module.line,
            module=module.name,
        )
    install = install_name(language, root)
    fix = (
        f"add `{install}` to the {target.name} template and to its declared packages "
        f"({language}_packages), or keep the workflow on legacy"
    )
    expected = inputs.expected.error if inputs.expected is not None else None
    if expected is not None and expected.kind == "import":
        return Finding(
            "module-missing",
            "info",
            f"imports `{module.name}`, which {target.name} does not provide; the recorded "
            "outcome is this import error",
            fix,
            line=module.line,
            module=module.name,
        )
    on_legacy = target.legacy_provides(language, module.name)
    if on_legacy is False:
        return Finding(
            "module-missing",
            "attention",
            f"imports `{module.name}`, which neither {target.name} nor legacy provides: the "
            "node fails with an import error today",
            fix,
            line=module.line,
            module=module.name,
        )
    return Finding(
        "module-missing",
        "blocker",
        f"imports `{module.name}`, which {target.name} does not provide"
        + (" (legacy does)" if on_legacy else ""),
        fix,
        line=module.line,
        module=module.name,
    )


def _side_effects(facts: CodeFacts, inputs: NodeInputs, target: AuditTarget) -> list[Finding]:
    capabilities = target.capabilities
    marked = (
        "; the config marks it sideEffectFree, so shadow WILL run it twice"
        if inputs.side_effect_free
        else ""
    )
    twice = (
        "remove sideEffectFree: true (and keep its workflow out of shadow_workflows)"
        if inputs.side_effect_free
        else "do not mark it sideEffectFree nor list its workflow in shadow_workflows"
    )
    findings = []
    for read in facts.environment:
        what = f"`{read.name}`" if read.name else "variables"
        findings.append(
            Finding(
                "environment-read",
                "info" if capabilities.host_environment_visible else "attention",
                f"reads environment {what} ({read.detail}): the old executor's child process "
                f"inherited the worker's environment; on {target.name} "
                + ("it is visible" if capabilities.host_environment_visible else "it is not there"),
                "pass the value in the workflow context (a secret input) and read it from inputs",
                line=read.line,
            )
        )
    for call in facts.network:
        blocked = not capabilities.network_access
        findings.append(
            Finding(
                "network-call",
                "blocker" if blocked else "attention",
                f"calls the network ({call.detail})"
                + (
                    f": {target.name} has no network access"
                    if blocked
                    else ": a shadow run repeats the call"
                )
                + marked,
                "keep the node on legacy until the target allows network access"
                if blocked
                else twice,
                line=call.line,
            )
        )
    lasting = (
        ""
        if capabilities.persistent_filesystem
        else f"; on {target.name} files do not outlive the execution"
    )
    for write in facts.file_writes:
        findings.append(
            Finding(
                "file-write",
                "attention",
                f"writes files ({write.detail}): a shadow run repeats the write{lasting}{marked}",
                twice,
                line=write.line,
            )
        )
    return findings


def _nondeterminism(facts: CodeFacts) -> list[Finding]:
    findings = []
    for source in facts.nondeterminism:
        if source.paths:
            findings.append(
                Finding(
                    "nondeterminism",
                    "attention",
                    f"{source.detail} differs on every run and reaches "
                    + describe_paths(source.paths),
                    "ignore these paths in shadow comparisons (the suggested shadow_ignore rules)",
                    line=source.line,
                    paths=source.paths,
                )
            )
        else:
            findings.append(
                Finding(
                    "nondeterminism",
                    "info",
                    f"{source.detail} differs on every run; where its value goes cannot be seen",
                    "if the output varies with it, compare that part by shape or ignore it",
                    line=source.line,
                )
            )
    return findings


def _output_variable(facts: CodeFacts, inputs: NodeInputs) -> list[Finding]:
    name = inputs.output_variable
    if name is None or name not in facts.assigned or facts.output_channels:
        return []
    returned = f"return {name}" + (";" if facts.language != "python" else "")
    return [
        Finding(
            "output-variable",
            "attention",
            f"the code assigns `{name}`, the outputVariable, but produces no output: "
            "outputVariable only names the key the result is wrapped in, so the output is null",
            f"end the code with `{returned}` (or assign `result`)",
        )
    ]
