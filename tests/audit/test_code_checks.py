"""Every code finding type, positive and negative, in JavaScript and in Python.

Each positive node shows the finding at the expected line; its negative twin, the same
kind of node without the problem, does not. Config finding types are in
test_config_checks.py; the run's own types in test_dynamic.py.
"""

from __future__ import annotations

import pytest

from turnout.audit.audit import audit_node
from turnout.audit.code_checks import NodeInputs, judge_code
from turnout.audit.facts import CodeFacts, Sighting

from .support import audited, capabilities, source, target

# (node id, finding type, line, severity) of every positive test node's expected finding.
POSITIVE = [
    ("js/syntax-error/positive", "syntax-error", 1, "blocker"),
    ("py/syntax-error/positive", "syntax-error", 1, "blocker"),
    ("js/typescript-syntax/positive", "typescript-syntax", 1, "blocker"),
    ("js/undefined-global/positive", "undefined-global", 1, "blocker"),
    ("py/undefined-global/positive", "undefined-global", 1, "blocker"),
    ("js/undefined-global/not-an-input", "undefined-global", 1, "blocker"),
    ("py/undefined-global/not-an-input", "undefined-global", 1, "blocker"),
    ("js/context-global/positive", "context-global", 1, "info"),
    ("py/context-global/positive", "context-global", 1, "info"),
    ("js/missing-input/positive", "missing-input", 1, "attention"),
    ("py/missing-input/positive", "missing-input", 1, "attention"),
    ("js/module-missing/positive", "module-missing", 1, "attention"),
    ("py/module-missing/positive", "module-missing", 1, "blocker"),
    ("js/module-unverified/positive", "module-unverified", 1, "attention"),
    ("py/module-unverified/positive", "module-unverified", 2, "attention"),
    ("js/import-statement/positive", "import-statement", 1, "blocker"),
    ("js/environment-read/positive", "environment-read", 1, "attention"),
    ("py/environment-read/positive", "environment-read", 2, "attention"),
    ("js/network-call/positive", "network-call", 1, "attention"),
    ("py/network-call/positive", "network-call", 1, "attention"),
    ("js/file-write/positive", "file-write", 3, "attention"),
    ("py/file-write/positive", "file-write", 2, "attention"),
    ("js/nondeterminism/positive", "nondeterminism", 1, "attention"),
    ("py/nondeterminism/positive", "nondeterminism", 3, "attention"),
    ("js/output-variable/positive", "output-variable", None, "attention"),
    ("py/output-variable/positive", "output-variable", None, "attention"),
]
NEGATIVE = [
    (node_id.replace("/positive", "/negative"), kind)
    for node_id, kind, _, _ in POSITIVE
    if node_id.endswith("/positive")
] + [
    ("py/typescript-syntax/negative", "typescript-syntax"),
    ("py/import-statement/negative", "import-statement"),
]


@pytest.mark.parametrize(("node_id", "kind", "line", "severity"), POSITIVE)
def test_positive_node_has_the_finding(
    node_id: str, kind: str, line: int | None, severity: str
) -> None:
    """The node written to show a finding has it, at its line, with its severity and a fix."""
    found = audited(node_id).of_type(kind)
    assert found, f"{node_id}: no {kind} finding"
    assert (found[0].line, found[0].severity) == (line, severity)
    assert found[0].fix


@pytest.mark.parametrize(("node_id", "kind"), NEGATIVE)
def test_negative_node_does_not(node_id: str, kind: str) -> None:
    """The same kind of node without the problem has no finding of that type."""
    assert audited(node_id).of_type(kind) == []


def test_typescript_constructs_are_each_named_at_their_line() -> None:
    """An interface, an annotation and a cast are three findings on lines 1, 2 and 3."""
    found = audited("js/typescript-syntax/positive").of_type("typescript-syntax")
    assert [(f.line, f.message.split(" (")[0]) for f in found] == [
        (1, "an interface"),
        (2, "a type annotation"),
        (3, "an `as` cast"),
    ]


def test_non_deterministic_values_name_the_output_paths_they_reach() -> None:
    """`'saga_' + Date.now()` reaches sagaId through a variable; new Date() processedAt."""
    found = audited("js/nondeterminism/positive").of_type("nondeterminism")
    assert [f.paths for f in found] == [(("output", "sagaId"),), (("output", "processedAt"),)]
    python = audited("py/nondeterminism/positive").of_type("nondeterminism")
    assert [f.paths for f in python] == [(("output", "runId"),), (("output", "generatedAt"),)]


def test_a_module_legacy_has_and_the_target_lacks_blocks() -> None:
    """pandas is on legacy, not on the target: the node would break by moving."""
    finding = audited("py/module-missing/positive").of_type("module-missing")[0]
    assert (finding.module, "(legacy does)" in finding.message) == ("pandas", True)


def test_a_module_no_backend_has_only_needs_attention() -> None:
    """lodash is on neither backend: the node fails today already, moving changes nothing."""
    finding = audited("js/module-missing/positive").of_type("module-missing")[0]
    assert "neither" in finding.message


def test_modules_are_unverified_where_the_target_declares_no_packages() -> None:
    """A target without a packages declaration cannot confirm `require('path')`."""
    bare = target(capabilities(packages={}))
    found = audited("js/module-unverified/negative", bare).of_type("module-unverified")
    assert [(f.line, f.module) for f in found] == [(1, "path")]


def test_network_calls_block_where_the_target_has_no_network() -> None:
    """On a target without network access, a node calling fetch cannot work."""
    offline = target(capabilities(network_access=False))
    [finding] = audited("js/network-call/positive", offline).of_type("network-call")
    assert finding.severity == "blocker"


def test_environment_reads_are_notes_where_the_host_environment_is_visible() -> None:
    """Where the target shows the host environment (as legacy does), a read is only a note."""
    visible = target(capabilities(host_environment_visible=True))
    [finding] = audited("py/environment-read/positive", visible).of_type("environment-read")
    assert finding.severity == "info"


def test_side_effects_in_a_node_marked_side_effect_free_say_so() -> None:
    """A network call in a node marked sideEffectFree says shadow will run it twice."""
    facts = CodeFacts("javascript", network=[Sighting(2, "fetch", "fetch(...)")])
    inputs = NodeInputs(frozenset(), "test", side_effect_free=True)
    [finding] = judge_code(facts, inputs, target())
    assert "WILL run it twice" in finding.message
    assert finding.fix.startswith("remove sideEffectFree")


def test_a_name_a_star_import_may_define_is_only_a_note() -> None:
    """After `from math import *`, `floor` may come from math: a note, never a blocker."""
    config = {"language": "python", "code": "from math import *\nresult = floor(x)"}
    audit = audit_node(source(config, {"x": 1.5}), target())
    [finding] = audit.of_type("context-global")
    assert (finding.severity, finding.line, audit.status) == ("info", 2, "ready")
