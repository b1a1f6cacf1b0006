"""Fixtures: one local E2B-compatible server (a subprocess) for the whole session.

The server is reset after every test (faults cleared, counters zeroed, settings back to
their start values), so tests can configure it freely. Sandboxes are tagged with the
test's own metadata when a test lists them, because other tests' sandboxes share it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from turnout_e2b_server.testing import ServerProcess, server_fixture

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from e2b_code_interpreter import AsyncSandbox

# Every sandbox boots with a python and a javascript kernel, so both pools are kept full.
e2b_server = server_fixture("--python-pool", "2", "--javascript-pool", "2", scope="session")


@pytest.fixture(autouse=True)
def _reset_server(request: pytest.FixtureRequest) -> None:
    """Give every test that uses the server a clean fault queue, counters and settings."""
    if "e2b_server" in request.fixturenames:
        server: ServerProcess = request.getfixturevalue("e2b_server")
        server.reset()


@pytest.fixture
def sdk(e2b_server: ServerProcess) -> dict[str, Any]:
    """Keyword arguments pointing the unmodified SDK at the test server."""
    return e2b_server.sdk_options


@pytest.fixture
async def sandbox(sdk: dict[str, Any]) -> AsyncIterator[AsyncSandbox]:
    """A fresh sandbox, killed after the test."""
    created = await AsyncSandbox.create(**sdk)
    yield created
    await AsyncSandbox.kill(created.sandbox_id, **sdk)


@pytest.fixture(scope="session")
def _shared_ids() -> list[str]:
    """Holds the id of the session's long-lived sandbox once it exists."""
    return []


@pytest.fixture
def shared_sandbox_id(e2b_server: ServerProcess, _shared_ids: list[str]) -> str:
    """One long-lived sandbox for read-mostly execution tests (its kernel starts once).

    Re-created if a test killed it (for example with a reset that kills every sandbox).
    """
    headers = {"X-API-KEY": e2b_server.api_key}
    with httpx.Client(base_url=e2b_server.url, headers=headers, trust_env=False) as client:
        if _shared_ids and client.get(f"/sandboxes/{_shared_ids[0]}").status_code == 200:
            return _shared_ids[0]
        response = client.post(
            "/v2/sandboxes", json={"templateID": "code-interpreter-v1", "timeout": 600}
        )
        response.raise_for_status()
    _shared_ids[:] = [response.json()["sandboxID"]]
    return _shared_ids[0]


@pytest.fixture
async def shared_sandbox(sdk: dict[str, Any], shared_sandbox_id: str) -> AsyncSandbox:
    """The session's long-lived sandbox, connected for this test."""
    return await AsyncSandbox.connect(shared_sandbox_id, **sdk)
