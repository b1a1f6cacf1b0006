"""`--run`: every node run on legacy and the target, the static findings held to it.

Scripted backends answer a runtime outcome per node (they run nothing), so each way a run
can go is exercised exactly; the last test runs real nodes on local-subprocess and on e2b
through the local E2B-compatible server.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import pytest
from turnout_e2b_server.testing import ServerProcess

from turnout.audit.audit import audit_nodes
from turnout.audit.dynamic import run_nodes
from turnout.audit.findings import NodeAudit
from turnout.audit.loading import NodeSource, load_nodes
from turnout.audit.suggestions import suggest
from turnout.audit.target import describe_target
from turnout.conformance.backends import build_engine
from turnout.registry import BackendRegistry

from .support import NODES, corpus_nodes, scripted_backend, source

OK_1 = {"ok": True, "channel": "return", "value": 1}


def ok(value: Any) -> dict[str, Any]:
    return {"ok": True, "channel": "return", "value": value}


def error(kind: str, name: str, message: str, line: int = 1) -> dict[str, Any]:
    return {"ok": False, "kind": kind, "name": name, "message": message, "line": line}


async def run(
    sources: list[NodeSource],
    legacy: Mapping[str, dict[str, Any]],
    target: Mapping[str, dict[str, Any]],
    **options: Any,
) -> list[NodeAudit]:
    """Audit `sources` against scripted backends (`legacy` answers, then `target`'s)."""
    registry = BackendRegistry()
    registry.add(scripted_backend("legacy", legacy))
    registry.add(scripted_backend("target", target))
    engine = build_engine(registry, backend_ids=["legacy", "target"])
    try:
        described = describe_target(engine)
        audits = audit_nodes(sources, described)
        await run_nodes(engine, described, audits, sources, **options)
        return audits
    finally:
        await engine.aclose()


pytestmark = pytest.mark.usefixtures("no_flag_file")


async def test_a_failure_only_on_the_target_blocks_and_confirms_the_finding() -> None:
    """lodash imports on legacy, not on the target: the module finding is confirmed and the
    run itself differs (a blocker)."""
    node = corpus_nodes()["js/module-missing/positive"]
    missing = error("import", "Error", "Cannot find module 'lodash'")
    [audit] = await run([node], {"lodash": ok([[1, 2], [3]])}, {"lodash": missing})
    [module] = audit.of_type("module-missing")
    assert (module.observed, audit.status) == ("confirmed", "blocked")
    [differs] = audit.of_type("run-differs")
    assert "works on legacy, fails on target" in differs.message


async def test_a_failure_on_both_that_a_finding_predicted_is_explained() -> None:
    """`variables` is undefined on both: the finding is confirmed, nothing else is added."""
    node = corpus_nodes()["js/undefined-global/positive"]
    undefined = error("runtime", "ReferenceError", "variables is not defined")
    [audit] = await run([node], {"variables": undefined}, {"variables": undefined})
    [finding] = audit.of_type("undefined-global")
    assert finding.observed == "confirmed"
    assert "variables is not defined" in finding.evidence
    assert audit.of_type("run-fails", "run-differs") == []


async def test_a_failure_on_both_that_nothing_predicted_needs_attention() -> None:
    """A TypeError on both backends, with no static finding to explain it: run-fails."""
    node = source({"language": "javascript", "code": "return rows.map((r) => r.id);"}, {"rows": 1})
    failed = error("runtime", "TypeError", "rows.map is not a function")
    [audit] = await run([node], {"rows.map": failed}, {"rows.map": failed})
    [finding] = audit.of_type("run-fails")
    assert (finding.severity, finding.line) == ("attention", 1)


async def test_failing_differently_on_both_needs_attention() -> None:
    """Both fail, with different errors: a difference to look at, not a migration blocker."""
    node = source({"language": "python", "code": "result = parse(text)"}, {"text": "", "parse": 1})
    legacy = error("runtime", "ValueError", "empty text")
    target = error("runtime", "TypeError", "'int' object is not callable")
    [audit] = await run([node], {"parse": legacy}, {"parse": target})
    [finding] = audit.of_type("run-differs")
    assert finding.severity == "attention"
    assert "fails on both backends, differently" in finding.message


async def test_working_only_on_the_target_needs_attention() -> None:
    """Legacy fails where the target works: better, but the workflow may rely on the failure."""
    node = source({"language": "python", "code": "result = parse(text)"}, {"text": "", "parse": 1})
    failed = error("runtime", "ValueError", "empty text")
    [audit] = await run([node], {"parse": failed}, {"parse": OK_1})
    [finding] = audit.of_type("run-differs")
    assert finding.severity == "attention"
    assert finding.message.startswith("fails on legacy")


async def test_a_predicted_failure_that_did_not_happen_is_refuted() -> None:
    """`variables` is read only on a branch the context does not take: refuted, and the
    node is no longer blocked."""
    code = "if (inputs.debug) { console.log(variables.trace); }\nreturn { ok: true };"
    node = source({"language": "javascript", "code": code}, {"debug": False})
    [audit] = await run([node], {"debug": ok({"ok": True})}, {"debug": ok({"ok": True})})
    [finding] = audit.of_type("undefined-global")
    assert (finding.observed, audit.status) == ("refuted", "attention")


async def test_different_results_block() -> None:
    """Legacy returns 1, the target 2: a shadow comparison would count a mismatch."""
    node = source({"language": "python", "code": "result = compute(1)"}, {"compute": 0})
    [audit] = await run([node], {"compute": OK_1}, {"compute": ok(2)})
    [finding] = audit.of_type("run-differs")
    assert finding.severity == "blocker"
    assert "$.output" in finding.message


async def test_differences_where_the_rules_point_confirm_the_nondeterminism() -> None:
    """Two different ids at $.output.sagaId are what the finding predicted: confirmed, and
    no run-differs, because the suggested rule ignores them."""
    node = corpus_nodes()["js/nondeterminism/positive"]
    legacy = ok({"sagaId": "saga_1", "processed": 1, "processedAt": "x"})
    target = ok({"sagaId": "saga_2", "processed": 1, "processedAt": "x"})
    [audit] = await run([node], {"saga_": legacy}, {"saga_": target})
    observed = [(f.paths, f.observed) for f in audit.of_type("nondeterminism")]
    assert observed == [
        ((("output", "sagaId"),), "confirmed"),
        ((("output", "processedAt"),), "refuted"),
    ]
    assert audit.of_type("run-differs") == []


async def test_current_times_the_code_does_not_show_are_found_by_the_run() -> None:
    """Two current times at $.output.at that no analysis saw become a confirmed finding,
    and its shadow_ignore rule is suggested."""
    node = source({"language": "javascript", "code": "return { at: clock.now() };"}, {"clock": 0})
    now = datetime.datetime.now(datetime.UTC)
    later = now + datetime.timedelta(seconds=1)
    legacy, target = ok({"at": now.isoformat()}), ok({"at": later.isoformat()})
    [audit] = await run([node], {"clock": legacy}, {"clock": target})
    [finding] = audit.of_type("nondeterminism")
    assert (finding.paths, finding.observed) == ((("output", "at"),), "confirmed")
    assert list(suggest([audit]).shadow_ignore) == ["$.output.at"]


async def test_nodes_with_side_effects_are_not_run_unless_asked() -> None:
    """A node calling fetch is skipped (it would call twice); with the option it runs."""
    node = corpus_nodes()["js/network-call/positive"]
    [skipped] = await run([node], {}, {})
    [finding] = skipped.of_type("run-skipped")
    assert "calls the network" in finding.message
    assert skipped.run is None
    [ran] = await run([node], {}, {}, include_side_effects=True)
    assert ran.of_type("run-skipped") == []
    assert ran.run is not None


async def test_the_recorded_context_or_the_given_one_is_used() -> None:
    """A node with a recorded context runs with it; one without, with --context's."""
    recorded, bare = (
        corpus_nodes()["js/timeout-units/negative"],
        source({"language": "python", "code": "result = 1"}),
    )
    audits = await run([recorded, bare], {}, {}, context={"given": True})
    assert [audit.run["context"] for audit in audits if audit.run] == ["recorded", "given"]


async def test_real_nodes_on_local_subprocess_and_e2b(
    e2b_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the real backends, `variables` fails as predicted, new Date() differs where
    predicted, and a node without findings stays ready."""
    monkeypatch.setenv("E2B_API_URL", e2b_server.url)
    monkeypatch.setenv("E2B_API_KEY", e2b_server.api_key)
    monkeypatch.setenv("TURNOUT_FLAGS_FILE", str(NODES.parents[2] / "feature_flags.toml"))
    wanted = [
        "js/undefined-global/positive",
        "js/nondeterminism/positive",
        "py/file-write/negative",
    ]
    sources = [node for node in load_nodes([NODES]).nodes if node.id in wanted]
    engine = build_engine(environment="test")
    try:
        described = describe_target(engine)
        audits = audit_nodes(sources, described)
        await run_nodes(engine, described, audits, sources)
    finally:
        await engine.aclose()
    by_id = {audit.node.id: audit for audit in audits}
    [undefined] = by_id["js/undefined-global/positive"].of_type("undefined-global")
    assert undefined.observed == "confirmed"
    times = by_id["js/nondeterminism/positive"].of_type("nondeterminism")
    assert [f.observed for f in times] == ["confirmed", "confirmed"]
    clean = by_id["py/file-write/negative"]
    assert (clean.status, clean.run and clean.run["same"]) == ("ready", True)
