"""The cross-language path the platform would use: a TypeScript workflow (ts/workflows.ts,
run by ts/code-nodes.test.mjs under `node --test`) schedules `execute_code_node` on the
Python worker's task queue, and gets, for code nodes in both languages on both backends,
the envelopes and errors that the Python library gives for the same nodes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from turnout import TurnoutError, execute_code_node
from turnout.codenode import default_engine

from .support import BACKEND_TENANTS, ENVIRONMENT, WorkerProcess, comparable, node_input

TS_PROJECT = Path(__file__).parent / "ts"
DOC = Path(__file__).resolve().parents[3] / "docs" / "temporal.md"
NODE_TEST_TIMEOUT_S = 600
CASES: list[dict[str, Any]] = [
    {
        "name": "javascript-on-local-subprocess",
        "input": node_input(
            "javascript",
            "console.log('rows', rows.length);\nreturn { total: rows.reduce((a, b) => a + b, 0) };",
            node={"inputVariables": ["rows"], "outputVariable": "summary"},
            context={"rows": [1, 2, 3], "ignored": True},
        ),
        "expect": {"output": {"total": 6}},
    },
    {
        "name": "python-on-local-subprocess",
        "input": node_input(
            "python", "print('hello')\nresult = {'mean': sum(xs) / len(xs)}", context={"xs": [2, 4]}
        ),
        "expect": {"output": {"mean": 3.0}},
    },
    {
        "name": "javascript-on-e2b",
        "input": node_input(
            "javascript",
            "const parsed = JSON.parse(text);\nreturn { label: parsed.label };",
            backend="e2b",
            context={"text": '{"label": "spam"}'},
        ),
        "expect": {"output": {"label": "spam"}},
    },
    {
        "name": "python-on-e2b",
        "input": node_input("python", "return [n * n for n in range(4)]", backend="e2b"),
        "expect": {"output": [0, 1, 4, 9]},
    },
    {
        "name": "javascript-runtime-error-on-e2b",
        "input": node_input("javascript", "console.log('x');\nnull.field;", backend="e2b"),
        "expect": {"failureType": "runtime"},
    },
    {
        "name": "python-syntax-error-on-local-subprocess",
        "input": node_input("python", "return (", context={}),
        "expect": {"failureType": "syntax"},
    },
]


async def library_outcome(payload: dict[str, Any]) -> dict[str, Any] | TurnoutError:
    """The Python library's answer for the same node, context and tenant."""
    labels = {"tenant": payload["tenantId"]} if "tenantId" in payload else None
    try:
        return await execute_code_node(
            payload["node"], payload["context"], env=ENVIRONMENT, labels=labels
        )
    except TurnoutError as error:
        return error


async def run_node_test(address: str, cases: Path, results: Path) -> tuple[int, str]:
    node = shutil.which("node")
    assert node is not None, "node (20 or newer) is required; see README.md"
    assert (TS_PROJECT / "node_modules").is_dir(), "run `python3 dev.py sync` (npm ci)"
    process = await asyncio.create_subprocess_exec(
        node,
        "--test",
        "--test-reporter=spec",
        "code-nodes.test.mjs",
        cwd=TS_PROJECT,
        env={
            **os.environ,
            "TEMPORAL_ADDRESS": address,
            "TURNOUT_TS_CASES": str(cases),
            "TURNOUT_TS_RESULTS": str(results),
            "NO_PROXY": "127.0.0.1,localhost",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), NODE_TEST_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


class TestTypeScriptWorkflow:
    async def test_a_typescript_workflow_gets_the_python_library_s_envelopes(
        self,
        worker: WorkerProcess,
        e2b: object,
        flags_file: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Six nodes (both languages, both backends, a success and a user error each way)
        through the TypeScript workflow: `node --test` passes, and every outcome equals the
        library's for the same input, but for timings, ids and cost."""
        cases = tmp_path / "cases.json"
        results = tmp_path / "results.json"
        cases.write_text(json.dumps(CASES))
        address = worker.command[worker.command.index("--address") + 1]
        status, output = await run_node_test(address, cases, results)
        assert status == 0, output
        got = json.loads(results.read_text())
        monkeypatch.setenv("TURNOUT_FLAGS_FILE", str(flags_file))
        try:
            for case in CASES:
                expected = await library_outcome(case["input"])
                outcome = got[case["name"]]
                if isinstance(expected, TurnoutError):
                    assert outcome["ok"] is False, case["name"]
                    assert outcome["error"] == expected.to_dict(), case["name"]
                else:
                    assert outcome["ok"] is True, case["name"]
                    assert comparable(outcome["result"]) == comparable(expected), case["name"]
                    backend = (
                        "e2b"
                        if case["input"].get("tenantId") == BACKEND_TENANTS["e2b"]
                        else "local-subprocess"
                    )
                    assert comparable(expected)[1] == backend
        finally:
            await default_engine(ENVIRONMENT).aclose()


class TestDocumentedWorkflow:
    def test_the_workflow_in_the_docs_is_the_one_the_test_runs(self) -> None:
        """docs/temporal.md shows ts/workflows.ts exactly, so the documented snippet is
        the tested one."""
        text = DOC.read_text(encoding="utf-8")
        section = text.split("## Calling it from a TypeScript workflow", 1)[1]
        snippet = section.split("```ts\n", 1)[1].split("```\n", 1)[0]
        assert snippet == (TS_PROJECT / "workflows.ts").read_text(encoding="utf-8")
