"""A local E2B-compatible server for the e2b backend's tests, and SDK settings for loopback."""

from __future__ import annotations

import os

import pytest
from turnout_e2b_server.testing import ServerProcess, server_fixture

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

# One server for the whole session: kernels are pre-started, so executions stay fast.
e2b_server = server_fixture("--python-pool", "2", "--javascript-pool", "2", scope="session")


@pytest.fixture
def e2b_url(e2b_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the e2b backend at the test server (its URL and its key), with faults cleared
    and no sandbox alive."""
    e2b_server.reset(kill_sandboxes=True)
    monkeypatch.setenv("E2B_API_URL", e2b_server.url)
    monkeypatch.setenv("E2B_SANDBOX_URL", e2b_server.url)
    monkeypatch.setenv("E2B_API_KEY", e2b_server.api_key)
    return e2b_server.url
