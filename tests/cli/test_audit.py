"""`turnout audit`: the table or one JSON object, report files, and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from turnout_e2b_server.testing import ServerProcess, server_fixture

from turnout.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TEST_NODES = ROOT / "tests" / "audit" / "nodes"


def audit(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    status = main(["audit", "--env", "test", *arguments])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_examples_are_clean(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/: nothing blocked; only the four nodes that stamp the current time or a
    random id need attention (their ignore rules are suggested), and lodash's recorded
    failure is a note."""
    status, out, _ = audit(
        capsys, str(EXAMPLES), "--context", str(EXAMPLES / "nodes" / "context.json"), "--json"
    )
    report = json.loads(out)
    assert status == 0
    assert (report["totals"]["blocked"], report["totals"]["attention"]) == (0, 4)
    attention = {n["id"] for n in report["nodes"] if n["status"] == "attention"}
    assert attention == {
        "triage/stamp",
        "reports/python-timestamp",
        "orders/saga-id",
        "orders/request-id",
    }
    rules = [s["rule"] for s in report["suggestions"]["shadow_ignore"]]
    assert rules == [
        "$.logs",
        "$.output.generatedAt",
        "$.output.processedAt",
        "$.output.requestId",
        "$.output.sagaId",
        "$.stdout",
    ]
    notes = [f for n in report["nodes"] for f in n["findings"] if f["severity"] == "info"]
    assert [(f["type"], f["module"]) for f in notes] == [("module-missing", "lodash")]
    assert report["skipped"] == [
        {
            "path": str(EXAMPLES / "nodes" / "context.json"),
            "reason": "not a node config (no language or code)",
        }
    ]


def test_blocked_nodes_exit_1_and_the_table_names_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The test nodes include blocked ones: exit 1, each named with its line and fix."""
    status, out, _ = audit(capsys, str(TEST_NODES / "javascript.jsonl"))
    assert status == 1
    assert "blocked    js/import-statement/positive" in out
    assert "fix: write `const x = require('dayjs')` instead" in out


def test_report_writes_json_and_markdown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--report DIR writes audit.json (the --json object) and audit.md, and says so on stderr."""
    status, out, err = audit(
        capsys, str(TEST_NODES / "python.jsonl"), "--report", str(tmp_path), "--json"
    )
    assert json.loads((tmp_path / "audit.json").read_text()) == json.loads(out)
    markdown = (tmp_path / "audit.md").read_text()
    assert markdown.startswith("# turnout audit\n")
    assert "### `py/undefined-global/positive`: blocked" in markdown
    assert f"wrote {tmp_path / 'audit.json'} and {tmp_path / 'audit.md'}" in err
    assert status == 1


def test_unreadable_input_exits_2_with_one_json_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A path that does not exist is invalid input: exit 2, one JSON object naming it."""
    status, out, _ = audit(capsys, str(tmp_path / "missing"), "--json")
    assert status == 2
    assert json.loads(out)["error"]["type"] == "ValidationError"


def test_a_context_that_is_not_an_object_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--context must hold a JSON object."""
    context = tmp_path / "context.json"
    context.write_text("[1, 2]")
    status, _, err = audit(capsys, str(EXAMPLES / "nodes"), "--context", str(context))
    assert status == 2
    assert "--context" in err


def test_a_target_that_cannot_load_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In production without E2B_API_KEY, the e2b target cannot load: exit 1, saying why."""
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    monkeypatch.delenv("E2B_API_URL", raising=False)
    status = main(["audit", str(EXAMPLES / "nodes"), "--env", "production"])
    assert status == 1
    assert "E2B_API_KEY" in capsys.readouterr().err


e2b_server = server_fixture("--python-pool", "1", "--javascript-pool", "1", scope="module")


def test_run_executes_on_both_backends_and_reports_where(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    e2b_server: ServerProcess,
) -> None:
    """--run runs the example nodes on local-subprocess and e2b (the local server): both give
    the same result, progress goes to stderr, and the report names the server it ran on."""
    monkeypatch.setenv("E2B_API_URL", e2b_server.url)
    monkeypatch.setenv("E2B_API_KEY", e2b_server.api_key)
    context = str(EXAMPLES / "nodes" / "context.json")
    status, out, err = audit(
        capsys, str(EXAMPLES / "nodes"), "--context", context, "--run", "--json"
    )
    report = json.loads(out)
    assert (status, report["ran"], report["totals"]["ready"]) == (0, True, 2)
    assert all(
        node["run"]["same"] and node["run"]["context"] == "given" for node in report["nodes"]
    )
    assert report["target"]["endpoint"] == f"E2B-compatible server at {e2b_server.url}"
    assert "4/4" in err


def test_without_a_flag_file_the_audit_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The flag file names the target: without one, exit 1 naming the variable to set."""
    monkeypatch.delenv("TURNOUT_FLAGS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    status, _, err = audit(capsys, str(EXAMPLES / "nodes"))
    assert status == 1
    assert "TURNOUT_FLAGS_FILE" in err
