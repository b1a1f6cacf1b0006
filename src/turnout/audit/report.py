"""The audit's result as one object: every node's findings, the totals, the suggestions.

`to_dict` is the `--json` output and `audit.json`; `render` turns the same object into the
terminal table and `audit.md`. The exit status is part of the interface: 0 when no node is
blocked, 1 when at least one is (so a preflight script can stop the rollout), 2 for input
that could not be read (raised before a report exists).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from turnout.audit.findings import FINDING_TYPES, NodeAudit
from turnout.audit.suggestions import Suggestions, node_rules, suggest
from turnout.audit.target import AuditTarget

__all__ = ["AuditReport"]


@dataclass
class AuditReport:
    """One audit: where it judged, what it found, what it suggests."""

    target: AuditTarget
    nodes: list[NodeAudit]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ran: bool = False
    sources: list[str] = field(default_factory=list)
    suggestions: Suggestions = field(init=False)

    def __post_init__(self) -> None:
        self.suggestions = suggest(self.nodes)

    @property
    def statuses(self) -> Counter[str]:
        counts: Counter[str] = Counter({"ready": 0, "attention": 0, "blocked": 0})
        counts.update(node.status for node in self.nodes)
        return counts

    @property
    def finding_totals(self) -> dict[str, int]:
        """Findings per type (every type, zeros included), counting each finding once."""
        counts = Counter(finding.type for node in self.nodes for finding in node.findings)
        return {kind: counts.get(kind, 0) for kind in FINDING_TYPES}

    @property
    def nodes_per_type(self) -> dict[str, int]:
        """Nodes having at least one finding of each type."""
        counts: Counter[str] = Counter()
        for node in self.nodes:
            counts.update({finding.type for finding in node.findings})
        return {kind: counts.get(kind, 0) for kind in FINDING_TYPES}

    @property
    def exit_status(self) -> int:
        return 1 if self.statuses["blocked"] else 0

    def to_dict(self) -> dict[str, Any]:
        target = self.target
        return {
            "environment": target.environment,
            "target": {"id": target.target.id, "endpoint": target.target.endpoint},
            "legacy": None
            if target.legacy is None
            else {"id": target.legacy.id, "available": target.legacy.capabilities is not None},
            "sources": self.sources,
            "ran": self.ran,
            "totals": {
                "nodes": len(self.nodes),
                **self.statuses,
                "findings": self.finding_totals,
                "nodes_with_finding": self.nodes_per_type,
            },
            "suggestions": self.suggestions.to_dict(target.environment),
            "nodes": [node.to_dict(node_rules(node)) for node in self.nodes],
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
        }
