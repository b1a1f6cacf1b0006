"""The client of a running server's admin API (/_turnout/admin), blocking and async.

Why both: tests and `turnout bench` drive the server from plain functions, a chaos run
from its event loop while hundreds of executions go on (a blocking call there would stall
them). Each call sends the server's own API key and bypasses proxies (loopback). Shapes
of the answers: see admin.py; settings: config.py; fault kinds: faults.py.

The async calls share one pooled connection while the async client is open
(`open_async`, as `ServerProcess` does in its `async with`), or use one of their own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

__all__ = ["ADMIN_PREFIX", "AdminClient"]

ADMIN_PREFIX = "/_turnout/admin"
TIMEOUT_S = 30.0


def _body(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json() if response.content else None


class AdminClient:
    """Admin calls to the server at `url` with `api_key` (set by the owner)."""

    url: str
    api_key: str
    _async_client: httpx.AsyncClient | None = None

    def _client_options(self) -> dict[str, Any]:
        return {
            "base_url": self.url,
            "trust_env": False,
            "timeout": TIMEOUT_S,
            "headers": {"X-API-KEY": self.api_key},
        }

    # Blocking calls.

    def admin(self, method: str, path: str, payload: Any = None) -> Any:
        """Call the admin API (path relative to /_turnout/admin); return the JSON body."""
        with httpx.Client(**self._client_options()) as client:
            return _body(client.request(method, f"{ADMIN_PREFIX}/{path}", json=payload))

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings of the running server (see ServerConfig); returns them all."""
        result: dict[str, Any] = self.admin("POST", "config", changes)
        return result

    def inject(self, *faults: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Queue scripted faults (see faults.py); returns the queue."""
        result: dict[str, Any] = self.admin("POST", "faults", {"faults": [*map(dict, faults)]})
        return list(result["faults"])

    def stats(self) -> dict[str, Any]:
        """Live sandboxes with their kernel pids, counters, the kernel pool, the temp root."""
        result: dict[str, Any] = self.admin("GET", "stats")
        return result

    def reset(self, *, kill_sandboxes: bool = False) -> dict[str, Any]:
        """Clear faults and counters, restore the start-up config (and kill sandboxes)."""
        result: dict[str, Any] = self.admin("POST", "reset", {"kill_sandboxes": kill_sandboxes})
        return result

    # Async calls.

    async def aadmin(self, method: str, path: str, payload: Any = None) -> Any:
        """`admin`, without blocking the event loop."""
        async with self._async() as client:
            return _body(await client.request(method, f"{ADMIN_PREFIX}/{path}", json=payload))

    async def aconfigure(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.aadmin("POST", "config", changes)
        return result

    async def ainject(self, *faults: Mapping[str, Any]) -> list[dict[str, Any]]:
        result: dict[str, Any] = await self.aadmin(
            "POST", "faults", {"faults": [*map(dict, faults)]}
        )
        return list(result["faults"])

    async def apending_faults(self) -> list[dict[str, Any]]:
        """The faults queued and not fired yet."""
        result: dict[str, Any] = await self.aadmin("GET", "faults")
        return list(result["faults"])

    async def aclear_faults(self) -> None:
        await self.aadmin("DELETE", "faults")

    async def astats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.aadmin("GET", "stats")
        return result

    async def areset(self, *, kill_sandboxes: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = await self.aadmin(
            "POST", "reset", {"kill_sandboxes": kill_sandboxes}
        )
        return result

    def open_async(self) -> None:
        """Open the pooled async client (in the event loop that will use it)."""
        if self._async_client is None:
            self._async_client = httpx.AsyncClient(**self._client_options())

    async def close_async(self) -> None:
        """Close the pooled async client, if open; safe to call twice."""
        client, self._async_client = self._async_client, None
        if client is not None:
            await client.aclose()

    @contextlib.asynccontextmanager
    async def _async(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._async_client is not None:
            yield self._async_client
            return
        async with httpx.AsyncClient(**self._client_options()) as client:
            yield client
