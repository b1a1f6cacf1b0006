"""What the audit says about one node: findings, each naming the line and the fix.

A finding has a type (one of `FINDING_TYPES`, stable names that reports and scripts can
count), a severity, what was found, and what to do about it. A node's status is its worst
finding: any `blocker` makes it `blocked` (it will not work on the target), any `attention`
makes it `attention` (it works, but the rollout needs a decision or a setting), `info` alone
leaves it `ready`. With `--run`, a finding may be `confirmed` or `refuted` by what the node
did on both backends; a refuted blocker no longer blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = [
    "FINDING_TYPES",
    "Finding",
    "NodeAudit",
    "NodeRef",
    "Observed",
    "Severity",
    "Status",
]

Severity = Literal["blocker", "attention", "info"]
Status = Literal["ready", "attention", "blocked"]
Observed = Literal["confirmed", "refuted"]
#: A place in the result envelope: keys and list indices from its root; `None` is "any".
EnvelopePath = tuple[str | int | None, ...]

#: Every finding type, with the one-line meaning the reports and docs/audit.md use.
FINDING_TYPES: dict[str, str] = {
    # the stored config
    "config-invalid": "the config is refused by turnout",
    "language-unsupported": "a language the target does not run",
    "timeout-units": "a timeout under 1000 ms: probably seconds",
    "unknown-field": "a config field turnout does not know (ignored)",
    "advisory-field": "a stored field that nothing enforces",
    "output-variable": "outputVariable does not do what the node seems to expect",
    # the code, by parsing it
    "syntax-error": "the code does not parse",
    "typescript-syntax": "TypeScript syntax in a JavaScript node",
    "undefined-global": "a global no input and no runtime defines",
    "context-global": "a global that must come from the context",
    "missing-input": "`inputs.x` for a key the context does not have",
    "module-missing": "a module the target does not provide",
    "module-unverified": "a module the target's declaration cannot confirm",
    "import-statement": "an ES module `import`, which code nodes do not support",
    "environment-read": "reads the host environment",
    "network-call": "calls the network",
    "file-write": "writes files",
    "nondeterminism": "time, randomness or ids that differ from run to run",
    # running the node, with --run
    "run-differs": "legacy and target gave different results",
    "run-fails": "the node failed on both backends",
    "run-skipped": "the node was not run",
}
_RANK: dict[Severity, int] = {"info": 0, "attention": 1, "blocker": 2}


@dataclass(frozen=True)
class Finding:
    """One problem or note about a node. `line` is the user's line where it comes from the
    code; `paths` are the envelope places a non-deterministic value reaches; `module` the
    module a module finding is about; `observed` what `--run` showed, with `evidence`."""

    type: str
    severity: Severity
    message: str
    fix: str
    line: int | None = None
    paths: tuple[EnvelopePath, ...] = ()
    module: str | None = None
    observed: Observed | None = None
    evidence: str = ""

    def __post_init__(self) -> None:
        if self.type not in FINDING_TYPES:
            raise ValueError(f"unknown finding type {self.type!r}")

    @property
    def effective_severity(self) -> Severity:
        """A blocker that a run refuted is only worth attention: the code path predicted to
        fail did not, at least with this context."""
        if self.observed == "refuted" and self.severity == "blocker":
            return "attention"
        return self.severity

    def judged(self, observed: Observed, evidence: str) -> Finding:
        return replace(self, observed=observed, evidence=evidence)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "severity": self.effective_severity,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
        }
        if self.module is not None:
            data["module"] = self.module
        if self.observed is not None:
            data["observed"] = self.observed
            data["evidence"] = self.evidence
        return data


@dataclass(frozen=True)
class NodeRef:
    """Which node: its id, the workflow it belongs to, where it was read (`FILE` or
    `FILE:LINE`) and its stored language."""

    id: str
    workflow: str
    location: str
    language: str


@dataclass
class NodeAudit:
    """Everything the audit found about one node, and (with `--run`) how it ran."""

    node: NodeRef
    findings: list[Finding] = field(default_factory=list)
    run: dict[str, Any] | None = None

    @property
    def status(self) -> Status:
        worst = max((_RANK[f.effective_severity] for f in self.findings), default=0)
        statuses: tuple[Status, ...] = ("ready", "attention", "blocked")
        return statuses[worst]

    def of_type(self, *types: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.type in types]

    def to_dict(self, rules: Sequence[str] = ()) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.node.id,
            "workflow": self.node.workflow,
            "location": self.node.location,
            "language": self.node.language,
            "status": self.status,
            "findings": [finding.to_dict() for finding in self.findings],
        }
        if rules:
            data["shadow_ignore"] = list(rules)
        if self.run is not None:
            data["run"] = self.run
        return data
