"""Helpers for the server tests: the /execute stream read line by line, as the SDK reads it,
and waiting for processes to exit."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import psutil

JUPYTER_PORT = "49999"


def execute_headers(sandbox_id: str) -> dict[str, str]:
    """The routing headers the SDK sends with /execute."""
    return {"E2b-Sandbox-Id": sandbox_id, "E2b-Sandbox-Port": JUPYTER_PORT}


def execute_body(code: str, **fields: Any) -> dict[str, Any]:
    """An /execute body with all four keys present, as the SDK sends it."""
    return {"code": code, "context_id": None, "language": None, "env_vars": None, **fields}


async def raw_lines(url: str, sandbox_id: str, code: str, timeout_s: float = 30.0) -> list[str]:
    """Every line of one /execute response, exactly as received (no parsing)."""
    async with (
        httpx.AsyncClient(trust_env=False, timeout=timeout_s) as client,
        client.stream(
            "POST",
            f"{url}/execute",
            json=execute_body(code),
            headers=execute_headers(sandbox_id),
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
