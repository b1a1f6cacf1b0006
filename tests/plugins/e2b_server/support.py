"""Helpers for the server tests: raw sandbox calls with the headers the SDK sends (routing
and the sandbox's tokens), the /execute stream read line by line, as the SDK reads it, and
waiting for processes to exit."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import psutil
from turnout_e2b_server.testing import ServerProcess

JUPYTER_PORT = "49999"
ENVD_PORT = "49983"


def tokens(server: ServerProcess, sandbox_id: str) -> dict[str, str]:
    """The sandbox's envd and traffic tokens, from a connect call (empty if it is gone)."""
    response = httpx.post(
        f"{server.url}/sandboxes/{sandbox_id}/connect",
        json={},
        headers={"X-API-KEY": server.api_key},
        trust_env=False,
    )
    if response.status_code >= 400:
        return {}
    body = response.json()
    return {"envd": body["envdAccessToken"], "traffic": body["trafficAccessToken"]}


def sandbox_headers(
    server: ServerProcess, sandbox_id: str, port: str = JUPYTER_PORT
) -> dict[str, str]:
    """What the SDK sends on a sandbox call: routing headers and the port's token."""
    headers = {"E2b-Sandbox-Id": sandbox_id, "E2b-Sandbox-Port": port}
    known = tokens(server, sandbox_id)
    if known and port == JUPYTER_PORT:
        headers["E2B-Traffic-Access-Token"] = known["traffic"]
    elif known:
        headers["X-Access-Token"] = known["envd"]
    return headers


def execute_headers(server: ServerProcess, sandbox_id: str) -> dict[str, str]:
    """The headers the SDK sends with /execute."""
    return sandbox_headers(server, sandbox_id, JUPYTER_PORT)


def execute_body(code: str, **fields: Any) -> dict[str, Any]:
    """An /execute body with all four keys present, as the SDK sends it."""
    return {"code": code, "context_id": None, "language": None, "env_vars": None, **fields}


async def raw_lines(
    server: ServerProcess, sandbox_id: str, code: str, timeout_s: float = 30.0
) -> list[str]:
    """Every line of one /execute response, exactly as received (no parsing)."""
    async with (
        httpx.AsyncClient(trust_env=False, timeout=timeout_s) as client,
        client.stream(
            "POST",
            f"{server.url}/execute",
            json=execute_body(code),
            headers=execute_headers(server, sandbox_id),
        ) as response,
    ):
        response.raise_for_status()
        body = (await response.aread()).decode()
    assert body.endswith("\n"), "the stream must end with a newline"
    return body[:-1].split("\n")


def parse(lines: list[str]) -> list[dict[str, Any]]:
    """Each line as a JSON object."""
    events = [json.loads(line) for line in lines]
    assert all(isinstance(event, dict) for event in events)
    return events


def gone(pids: list[int], within_s: float = 5.0) -> bool:
    """Whether every pid has exited (zombies count as exited) within the time limit."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive:
            return True
        time.sleep(0.05)
    return False
