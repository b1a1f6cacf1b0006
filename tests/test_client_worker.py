"""The worker a platform writes from the docs alone, on turnout.Client: 40 concurrent
executions across two environments, flags from a mapping (no file on disk), only the
public `turnout` module, no logging set-up, rollout ids as parameters. Run in a fresh
interpreter whose stdout and stderr are captured: turnout must write nothing to either.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

CANARY = "e2b_" + "0123456789abcdef0123"

WORKER = textwrap.dedent(
    """
    import asyncio, json, os, sys

    import turnout

    FLAGS = {
        "schema_version": 1,
        "environments": {
            "staging": {"legacy_backend": "local-subprocess", "stage": "off"},
            "production": {
                "legacy_backend": "local-subprocess",
                "stage": "off",
                "rollout": {"shadow": 50},
                "bucket_by": ["tenant", "workflow"],
            },
        },
    }
    NODES = [
        {"language": "python", "code": "return {'double': n * 2}", "inputVariables": ["n"]},
        {"language": "javascript", "code": "return { double: n * 2 };"},
    ]

    async def main(tenant_prefix):
        async with (
            turnout.Client(FLAGS, "staging") as staging,
            turnout.Client(FLAGS, "production") as production,
        ):
            async def one(index):
                client = staging if index % 2 else production
                ids = {
                    "tenant_id": f"{tenant_prefix}-{index % 5}",
                    "workflow_id": f"wf-{index % 3}",
                    "execution_id": f"run-{index}",
                }
                envelope = await client.execute(NODES[index % 2], {"n": index}, **ids)
                return {
                    "index": index,
                    "environment": client.environment,
                    "output": envelope.output,
                    "backend": envelope.metadata.backend,
                    "explained_stage": client.explain(**ids).stage,
                }

            return await asyncio.gather(*(one(index) for index in range(40)))

    results = asyncio.run(main(sys.argv[2]))
    with os.fdopen(int(sys.argv[1]), "w") as channel:
        json.dump(results, channel)
    """
)


def run_worker(
    directory: Path, *, tenant_prefix: str = "tenant", logging_set_up: str = ""
) -> tuple[list[dict[str, Any]], str, str]:
    """Run the worker in a fresh interpreter in `directory` (no flag file, no TURNOUT_*
    variable); its results come back on a pipe of their own, its stdout and stderr are
    captured."""
    read, write = os.pipe()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TURNOUT_")}
    code = logging_set_up + WORKER
    with subprocess.Popen(
        [sys.executable, "-c", code, str(write), tenant_prefix],
        cwd=directory,
        env=env,
        pass_fds=(write,),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        os.close(write)
        with os.fdopen(read) as channel:
            results = channel.read()
        stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return json.loads(results), stdout, stderr


def test_the_worker_runs_40_executions_and_writes_nothing(tmp_path: Path) -> None:
    """40 concurrent executions across two environments all succeed with their ids' stage,
    with no file on disk, and the worker writes nothing on stdout or stderr."""
    results, stdout, stderr = run_worker(tmp_path)
    assert (stdout, stderr) == ("", "")
    assert list(tmp_path.iterdir()) == []
    assert sorted(result["index"] for result in results) == list(range(40))
    for result in results:
        assert result["output"] == {"double": result["index"] * 2}
        assert result["backend"] == "local-subprocess"
    production = {r["explained_stage"] for r in results if r["environment"] == "production"}
    assert production == {"off", "shadow"}  # the ids split production between two stages


def test_with_logging_configured_events_appear_on_stderr_scrubbed(tmp_path: Path) -> None:
    """The same worker with `logging.basicConfig` shows turnout's events on stderr, a
    canary secret in the tenant ids redacted, and still nothing on stdout."""
    set_up = "import logging\nlogging.basicConfig(level=logging.INFO)\n"
    results, stdout, stderr = run_worker(tmp_path, tenant_prefix=CANARY, logging_set_up=set_up)
    assert len(results) == 40
    assert stdout == ""
    assert stderr.count("code_node_executed") == 40
    assert CANARY not in stderr
    assert "label_tenant=[redacted]" in stderr
