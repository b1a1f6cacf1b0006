"""The TypeScript client (clients/typescript) against a live `turnout serve`: `node --test`
runs its tests, and every case's outcome through TypeScript equals what the Python
library's `turnout.Client` gives for the same node, context and tenant."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

from turnout_e2b_server.testing import ServerProcess

import turnout
from turnout.comparison import normalize_outcome
from turnout.envelope import Envelope

from .support import CASES, ENVIRONMENT, TOKEN, ServeProcess, outcome_of, wait_until

ROOT = Path(__file__).resolve().parents[3]
TS_CLIENT = ROOT / "clients" / "typescript"
NODE_TEST_TIMEOUT_S = 600


async def run(*command: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=TS_CLIENT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), NODE_TEST_TIMEOUT_S)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


def typescript_outcome(result: dict[str, Any]) -> dict[str, Any]:
    """A TypeScript result in the shape `outcome_of` gives for the library."""
    if not result["ok"]:
        detail = result["error"]
        if detail["type"] == "CodeExecutionError":
            return {"error": detail}
        return {"error": {"type": detail["type"], "message": detail["message"]}}
    envelope = Envelope.from_dict(result["wire"])
    return {
        "variable": envelope.output_variable,
        "backend": envelope.metadata.backend,
        **normalize_outcome(envelope.to_dict(wrapped=False)),
    }


class TestTypeScriptClient:
    async def test_node_tests_pass_and_match_the_python_library(
        self, service: ServeProcess, e2b: ServerProcess, flags_file: Path, tmp_path: Path
    ) -> None:
        """The client compiles, its `node:test` tests pass against the live service, and
        each case (both languages, both backends, results and user errors) gets through
        TypeScript what `turnout.Client` returns, but for timings and ids; the execution
        the TypeScript test aborts leaves no process behind."""
        node = shutil.which("node")
        assert node is not None, "node (20 or newer) is required; see README.md"
        assert (TS_CLIENT / "node_modules").is_dir(), "run `python3 dev.py sync` (npm ci)"
        status, output = await run(str(TS_CLIENT / "node_modules" / ".bin" / "tsc"), "-p", ".")
        assert status == 0, output
        cases = tmp_path / "cases.json"
        results = tmp_path / "results.json"
        cases.write_text(
            json.dumps(
                [
                    {"name": name, "node": config, "context": context}
                    | ({"tenantId": tenant} if tenant else {})
                    for name, config, context, tenant in CASES
                ]
            )
        )
        before = {child.pid for child in service.children()}
        status, output = await run(
            node,
            "--test",
            "--test-reporter=spec",
            "test/",
            env={
                "TURNOUT_SERVE_URL": service.url,
                "TURNOUT_SERVE_TOKEN": TOKEN,
                "TURNOUT_TS_CASES": str(cases),
                "TURNOUT_TS_RESULTS": str(results),
                "NO_PROXY": "127.0.0.1,localhost",
            },
        )
        assert status == 0, output
        await asyncio.to_thread(
            wait_until,
            lambda: not ({child.pid for child in service.children()} - before),
            30,
            "the aborted execution's process to be killed",
        )
        got = json.loads(results.read_text())
        async with turnout.Client(
            flags=flags_file, environment=ENVIRONMENT, keep_warm=False
        ) as library:
            for name, config, context, tenant in CASES:
                expected = await outcome_of(library.execute(config, context, tenant_id=tenant))
                assert typescript_outcome(got[name]) == expected, name
