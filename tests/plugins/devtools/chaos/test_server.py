"""The chaos run's local server takes only the random key it was handed on its stdin."""

from __future__ import annotations

import httpx
import psutil
from turnout_devtools.chaos import server as chaos_server


class TestChaosServerKey:
    async def test_admin_calls_need_the_servers_own_key(self) -> None:
        """The admin API answers with the server's key, refuses any other, and the key is on
        neither the server's command line nor in its environment."""
        server = chaos_server.new_server("--python-pool", "0", "--javascript-pool", "0")
        await chaos_server.start(server)
        try:
            process = psutil.Process(server.pid)
            exposed = " ".join(process.cmdline()) + repr(process.environ())
            assert (await server.astats())["live_sandboxes"] == 0
            async with httpx.AsyncClient(base_url=server.url, trust_env=False) as other:
                refused = await other.get(
                    "/_turnout/admin/stats", headers={"X-API-KEY": "turnout-chaos"}
                )
        finally:
            assert await chaos_server.stop(server) == []
        assert refused.status_code == 401
        assert server.api_key not in exposed
