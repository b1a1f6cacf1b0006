"""One Temporal test server, one local E2B-compatible server and one `turnout worker` for the
session; per test, a client and the test workflow's own worker."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker
from turnout_e2b_server.testing import ServerProcess, server_fixture
from turnout_temporal.testing import TemporalTestServer

from .support import WorkerProcess, Workflows, write_flags
from .workflows import TEST_TASK_QUEUE, RunCodeNode

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

e2b_server = server_fixture("--python-pool", "1", "--javascript-pool", "1", scope="session")


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[TemporalTestServer]:
    with TemporalTestServer() as server:
        yield server


@pytest.fixture(scope="session")
def flags_file(tmp_path_factory: pytest.TempPathFactory, e2b_server: ServerProcess) -> Path:
    return write_flags(tmp_path_factory.mktemp("flags") / "feature_flags.toml", e2b_server.url)


@pytest.fixture(scope="session")
def worker(
    temporal_server: TemporalTestServer, flags_file: Path, e2b_server: ServerProcess
) -> Iterator[WorkerProcess]:
    """`turnout worker` on the default task queue, for every test of the session."""
    process = WorkerProcess(temporal_server.address, flags_file, e2b_key=e2b_server.api_key).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def e2b(e2b_server: ServerProcess) -> ServerProcess:
    """The local E2B server with no fault queued and no sandbox alive."""
    e2b_server.reset(kill_sandboxes=True)
    return e2b_server


@pytest.fixture
async def client(temporal_server: TemporalTestServer) -> Client:
    return await Client.connect(temporal_server.address)


@pytest.fixture
async def workflows(client: Client, worker: WorkerProcess) -> AsyncIterator[Workflows]:
    """The test workflow, served by a worker in this test's event loop."""
    async with Worker(client, task_queue=TEST_TASK_QUEUE, workflows=[RunCodeNode]):
        yield Workflows(client)


@pytest.fixture(autouse=True)
def e2b_key(e2b_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """The local server's own key for what a test runs itself (the library it compares
    with, `turnout run`), as the worker and the service get it."""
    monkeypatch.setenv("E2B_API_KEY", e2b_server.api_key)
    return e2b_server.api_key
