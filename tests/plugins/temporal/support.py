"""Helpers of the Temporal tests: `turnout worker` in a child process, the flag file it
reads, and a runner for the test workflow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import psutil
from temporalio.client import Client, WorkflowHandle
from turnout_temporal import DEFAULT_TASK_QUEUE

from turnout.comparison import normalize_outcome

from .workflows import TEST_TASK_QUEUE, RunCodeNode

ENVIRONMENT = "temporal-test"
ON_E2B = "on-e2b"
"""The tenant id the test flags send to e2b (every other execution runs on local-subprocess)."""
BACKEND_TENANTS = {"local-subprocess": None, "e2b": ON_E2B}


def write_flags(path: Path, e2b_url: str, *, e2b_options: str = "") -> Path:
    """A flag file whose `temporal-test` environment runs on local-subprocess, except the
    tenant `on-e2b`, which runs on e2b at `e2b_url` (one create attempt per execution, so a
    create fault reaches Temporal's retries)."""
    path.write_text(
        f"""schema_version = 1

[environments.{ENVIRONMENT}]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "off"

[environments.{ENVIRONMENT}.overrides]
tenants = {{ "{ON_E2B}" = "rampdown" }}

[environments.{ENVIRONMENT}.backends.e2b]
api_url = "{e2b_url}"
create_attempts = 1
{e2b_options}

[environments.{ENVIRONMENT}.backends.local-subprocess]
prestart_python = 0
""",
        encoding="utf-8",
    )
    return path


class WorkerProcess:
    """`turnout worker` in a child process, its JSON log lines kept in a file."""

    def __init__(self, address: str, flags: Path, *arguments: str, e2b_key: str) -> None:
        self.e2b_key = e2b_key  # the local E2B-compatible server's, never a developer's
        self.command = [
            str(Path(sys.executable).parent / "turnout"),
            "worker",
            "--address",
            address,
            "--flags",
            str(flags),
            "--env",
            ENVIRONMENT,
            *arguments,
        ]
        self._log = tempfile.NamedTemporaryFile(suffix=".log", delete=False)  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float = 120.0) -> Self:
        """Start the worker and wait for its `worker_started` event."""
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "E2B_API_KEY": self.e2b_key}
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, env=env
        )
        self.wait_for(lambda event: event.get("event") == "worker_started", timeout_s)
        return self

    def events(self) -> list[dict[str, Any]]:
        """Every JSON log line the worker wrote so far."""
        lines = Path(self._log.name).read_text(encoding="utf-8", errors="replace").splitlines()
        found = []
        for line in lines:
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    def wait_for(
        self, matches: Callable[[dict[str, Any]], bool], timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """The first event that `matches`, waiting up to `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self.events():
                if matches(event):
                    return event
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no such worker event; its output:\n{self.output()}")
            time.sleep(0.05)

    def output(self, limit: int = 6000) -> str:
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")[-limit:]

    def children(self) -> list[psutil.Process]:
        """The worker's live descendants (a local-subprocess execution's processes)."""
        try:
            found = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        return [p for p in found if _alive(p)]

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout_s)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 30 s; removes the log."""
        if self.process is not None and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def node_input(
    language: str, code: str, *, backend: str = "local-subprocess", **fields: Any
) -> dict[str, Any]:
    """An activity input for one node on `backend` (chosen through the tenant override)."""
    payload: dict[str, Any] = {
        "node": {"language": language, "code": code, **fields.pop("node", {})},
        "context": fields.pop("context", {}),
        **fields,
    }
    tenant = BACKEND_TENANTS[backend]
    if tenant is not None:
        payload["tenantId"] = tenant
    return payload


@dataclass
class Workflows:
    """Runs the test workflow (`RunCodeNode`) against the worker's task queue."""

    client: Client
    task_queue: str = DEFAULT_TASK_QUEUE

    async def start(
        self, payload: Any, *, workflow_id: str | None = None, **options: Any
    ) -> WorkflowHandle[Any, Any]:
        """Start the workflow (id: `workflow_id`, else a fresh one) with `options`."""
        return await self.client.start_workflow(
            RunCodeNode.run,
            {"input": payload, "taskQueue": self.task_queue, **options},
            id=workflow_id or f"turnout-test-{uuid.uuid4().hex[:12]}",
            task_queue=TEST_TASK_QUEUE,
        )

    async def run(self, payload: Any, **options: Any) -> Any:
        handle = await self.start(payload, **options)
        return await handle.result()


HANGS = {
    "python": "import time\ntime.sleep(600)",
    "javascript": "await new Promise(() => {});",
}


def hang_input(backend: str, language: str = "python") -> dict[str, Any]:
    """A node that runs until it is killed (its own timeout: 60 s)."""
    return node_input(language, HANGS[language], backend=backend, node={"timeout": 60_000})


def comparable(result: dict[str, Any]) -> tuple[str | None, str, dict[str, Any]]:
    """(outputVariable or None, the backend, the envelope without volatile metadata)."""
    wrapper = None
    if len(result) == 1 and "metadata" not in result:
        [(wrapper, result)] = result.items()
    return wrapper, result["metadata"]["backend"], normalize_outcome(result)
