"""One local E2B-compatible server and one `turnout serve` for the module's tests; services
with their own options (a drain, a flag reload) are started by the tests that need them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from turnout_e2b_server.testing import ServerProcess, server_fixture
from turnout_serve.client import ServiceClient

from .support import TOKEN, ServeProcess, write_flags

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

e2b_server = server_fixture("--python-pool", "1", "--javascript-pool", "1", scope="session")

SERVICE_OPTIONS = (
    "--max-concurrency",
    "2",
    "--body-timeout",
    "2",
    "--max-body-bytes",
    "65536",
)
"""The shared service: two execution slots (a third request is refused), a body must
arrive within 2 s, and 64 KiB is the largest body."""


@pytest.fixture(scope="session")
def flags_file(tmp_path_factory: pytest.TempPathFactory, e2b_server: ServerProcess) -> Path:
    return write_flags(tmp_path_factory.mktemp("flags") / "feature_flags.toml", e2b_server.url)


@pytest.fixture(scope="session")
def service(flags_file: Path, e2b_server: ServerProcess) -> Iterator[ServeProcess]:
    """`turnout serve` with a token and SERVICE_OPTIONS, for every test of the session."""
    process = ServeProcess(flags_file, *SERVICE_OPTIONS, e2b_key=e2b_server.api_key).start()
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
async def client(service: ServeProcess) -> AsyncIterator[ServiceClient]:
    async with ServiceClient(service.url, token=TOKEN) as connected:
        yield connected


@pytest.fixture(autouse=True)
def e2b_key(e2b_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """The local server's own key for what a test runs itself (the library it compares
    with, `turnout run`), as the worker and the service get it."""
    monkeypatch.setenv("E2B_API_KEY", e2b_server.api_key)
    return e2b_server.api_key
