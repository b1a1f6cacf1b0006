"""Findings and a node's status."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.audit.findings import FINDING_TYPES, Finding, NodeAudit, NodeRef

REF = NodeRef("n", "wf", "nodes.jsonl:1", "python")


def finding(severity: str, kind: str = "undefined-global") -> Finding:
    return Finding(kind, severity, "message", "fix", line=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("severities", "status"),
    [
        ([], "ready"),
        (["info"], "ready"),
        (["info", "attention"], "attention"),
        (["attention", "blocker", "info"], "blocked"),
    ],
)
def test_status_is_the_worst_finding(severities: list[str], status: str) -> None:
    """No finding or notes only: ready; any attention: attention; any blocker: blocked."""
    assert NodeAudit(REF, [finding(s) for s in severities]).status == status


def test_a_refuted_blocker_no_longer_blocks() -> None:
    """A blocker a run refuted counts as attention; a confirmed one still blocks."""
    refuted = finding("blocker").judged("refuted", "ran fine")
    confirmed = finding("blocker").judged("confirmed", "ReferenceError")
    assert NodeAudit(REF, [refuted]).status == "attention"
    assert NodeAudit(REF, [confirmed]).status == "blocked"
    assert refuted.to_dict()["observed"] == "refuted"


def test_an_unknown_finding_type_is_refused() -> None:
    """Finding types are a fixed vocabulary that reports count: a typo fails loudly."""
    with pytest.raises(ValueError, match="unknown finding type"):
        finding("info", kind="undefined-globl")


def test_every_finding_type_is_documented() -> None:
    """docs/audit.md's table has a row for every finding type the reports count."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "audit.md"
    table = docs.read_text(encoding="utf-8").split("## The findings")[1].split("\n## ")[0]
    assert [kind for kind in FINDING_TYPES if f"| `{kind}` |" not in table] == []
