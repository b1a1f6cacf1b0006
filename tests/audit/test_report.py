"""The audit's result object: totals per status and finding type, exit status, JSON."""

from __future__ import annotations

import json

from turnout.audit.findings import FINDING_TYPES
from turnout.audit.report import AuditReport

from .support import audited, target


def report(*node_ids: str) -> AuditReport:
    return AuditReport(target(), [audited(node_id) for node_id in node_ids])


def test_totals_count_statuses_and_every_finding_type() -> None:
    """Every finding type is in the totals, zeros included, with findings and nodes apart."""
    result = report("js/nondeterminism/positive", "js/network-call/negative").to_dict()
    totals = result["totals"]
    counts = [totals[key] for key in ("nodes", "ready", "attention", "blocked")]
    assert counts == [2, 1, 1, 0]
    assert set(totals["findings"]) == set(FINDING_TYPES)
    assert totals["findings"]["nondeterminism"] == 2
    assert totals["nodes_with_finding"]["nondeterminism"] == 1


def test_exit_status_is_one_only_when_a_node_is_blocked() -> None:
    """Attention alone exits 0; one blocked node exits 1."""
    assert report("js/nondeterminism/positive").exit_status == 0
    assert report("js/nondeterminism/positive", "py/syntax-error/positive").exit_status == 1


def test_the_json_names_each_node_its_findings_and_its_rules() -> None:
    """A node's entry has its location, status, findings with line and fix, and its rules."""
    result = json.loads(json.dumps(report("js/nondeterminism/positive").to_dict()))
    [node] = result["nodes"]
    assert node["location"].endswith("javascript.jsonl:" + node["location"].split(":")[-1])
    assert node["shadow_ignore"] == ["$.output.sagaId", "$.output.processedAt"]
    assert {f["type"] for f in node["findings"]} == {"nondeterminism"}
    assert all(f["line"] and f["fix"] for f in node["findings"])
    assert result["suggestions"]["toml"].startswith("[environments.production]\n")
