"""`GET /metrics` of the real app: the gauge of sandboxes alive per backend follows a real
local-subprocess execution from its start to its clean-up."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from turnout_e2b_server.testing import ServerProcess
from turnout_serve.app import create_app
from turnout_serve.settings import ServiceSettings

import turnout

from .support import node

FLAGS = {
    "schema_version": 1,
    "environments": {
        "metrics-test": {"stage": "off", "backends": {"local-subprocess": {"prestart_python": 0}}}
    },
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The real app over a real Client (no pre-started interpreter), called in process."""
    client = turnout.Client(FLAGS, "metrics-test", keep_warm=False)
    app = create_app(client, ServiceSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://turnout") as connected:
        yield connected
    await client.aclose()


async def alive(http: httpx.AsyncClient) -> dict[str, float]:
    text = (await http.get("/metrics")).text
    found = re.findall(r'^turnout_sandboxes_alive\{backend="([^"]+)"\} (\S+)$', text, re.M)
    return {backend: float(value) for backend, value in found}


async def until(http: httpx.AsyncClient, backend: str, value: float) -> None:
    deadline = time.monotonic() + 30
    while (await alive(http)).get(backend) != value:
        assert time.monotonic() < deadline, f"{backend} never reached {value}"
        await asyncio.sleep(0.05)


async def test_the_gauge_counts_a_sandbox_from_creation_to_kill(http: httpx.AsyncClient) -> None:
    """Every backend the service can run has a series; a running execution's confined
    process counts one more on its backend, and is gone from it once cleaned up (the count
    is the process's: relative to what other tests of this process left running)."""
    before = await alive(http)
    assert set(before) == {"e2b", "local-subprocess"}
    local = before["local-subprocess"]
    running = asyncio.ensure_future(
        http.post(
            "/v1/executions",
            json={"node": node("python", "import time\ntime.sleep(2)\nreturn 1"), "context": {}},
        )
    )
    await until(http, "local-subprocess", local + 1)
    assert (await running).status_code == 200
    await until(http, "local-subprocess", local)


async def test_the_gauge_counts_an_e2b_sandbox_until_its_kill(e2b: ServerProcess) -> None:
    """An e2b execution's sandbox counts one more on e2b while it runs, and is gone from
    it once the background kill has completed."""
    flags = {
        "schema_version": 1,
        "environments": {
            "metrics-test": {
                "legacy_backend": "local-subprocess",
                "target_backend": "e2b",
                "stage": "rampdown",
                "backends": {"e2b": {"api_url": e2b.url, "create_attempts": 1}},
            }
        },
    }
    client = turnout.Client(flags, "metrics-test", keep_warm=False)
    transport = httpx.ASGITransport(app=create_app(client, ServiceSettings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://turnout") as http:
        before = (await alive(http))["e2b"]
        running = asyncio.ensure_future(
            http.post(
                "/v1/executions",
                json={
                    "node": node("python", "import time\ntime.sleep(2)\nreturn 1"),
                    "context": {},
                },
            )
        )
        await until(http, "e2b", before + 1)
        assert (await running).json()["metadata"]["backend"] == "e2b"
        await until(http, "e2b", before)
    await client.aclose()
