"""The chaos run's local server takes only the random key it was handed on its stdin."""

from __future__ import annotations

import psutil
from turnout_devtools.chaos.server import Admin, ChaosServer


class TestChaosServerKey:
    async def test_admin_calls_need_the_servers_own_key(self) -> None:
        """The admin API answers with the server's key, refuses any other, and the key is on
        neither the server's command line nor in its environment."""
        server = ChaosServer("--python-pool", "0", "--javascript-pool", "0").start()
        try:
            assert server._process is not None
            process = psutil.Process(server._process.pid)
            exposed = " ".join(process.cmdline()) + repr(process.environ())
            own, other = Admin(server.url, server.api_key), Admin(server.url, "turnout-chaos")
            try:
                assert (await own.stats())["live_sandboxes"] == 0
                refused = await other._client.get("/_turnout/admin/stats")
            finally:
                await own.aclose()
                await other.aclose()
        finally:
            assert server.stop() == []
        assert refused.status_code == 401
        assert server.api_key not in exposed
