"""The supervisor of the local server: start, admin calls, stop with its leak check."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest
from turnout_e2b_server.supervisor import ServerLeakError, ServerProcess, ServerStartError

NO_POOL = ("--python-pool", "0", "--javascript-pool", "0")


class TestStart:
    def test_start_returns_the_loopback_url_with_the_pool_full(self) -> None:
        """`start` returns once the server printed its 127.0.0.1 URL and its pool is full."""
        with ServerProcess("--python-pool", "1", "--javascript-pool", "0") as server:
            assert server.url.startswith("http://127.0.0.1:")
            assert server.stats()["pool"]["idle"]["python"] == 1

    def test_a_server_that_cannot_start_raises_with_the_end_of_its_log(self) -> None:
        """A server that exits at once is reported with what it said on stderr."""
        with pytest.raises(ServerStartError, match="not allowed with argument"):
            ServerProcess("--api-key", "visible").start()

    def test_without_a_handed_over_key_any_key_is_accepted(self) -> None:
        """`hand_over_key=False` starts a server with no key of its own (any key works)."""
        with ServerProcess(*NO_POOL, hand_over_key=False) as server:
            answer = httpx.get(
                f"{server.url}/_turnout/admin/stats", headers={"X-API-KEY": "x"}, trust_env=False
            )
        assert answer.status_code == 200


class TestAdmin:
    def test_the_admin_calls_use_the_servers_own_key(self) -> None:
        """Blocking admin calls reach the server; a call with another key is refused."""
        with ServerProcess(*NO_POOL) as server:
            server.configure(create_delay_ms=5)
            config = server.admin("GET", "config")
            other = httpx.get(
                f"{server.url}/_turnout/admin/config",
                headers={"X-API-KEY": "other"},
                trust_env=False,
            )
        assert (config["create_delay_ms"], other.status_code) == (5, 401)

    async def test_async_use_shares_the_admin_calls(self) -> None:
        """`async with` starts the server; async admin calls queue and clear faults."""
        async with ServerProcess(*NO_POOL) as server:
            await server.ainject({"kind": "create_error", "status": 503})
            queued = await server.apending_faults()
            await server.aclear_faults()
            left = await server.apending_faults()
        assert (len(queued), left, server.running()) == (1, [], False)


class TestStop:
    def test_stop_reports_a_server_that_died_before_it(self) -> None:
        """A server killed behind the supervisor's back is a problem `stop` reports."""
        server = ServerProcess(*NO_POOL).start()
        os.kill(server.pid, signal.SIGKILL)
        while server.running():
            time.sleep(0.01)
        with pytest.raises(ServerLeakError) as caught:
            server.stop()
        assert caught.value.problems == ["the server had already exited with status -9"]

    def test_a_clean_stop_reports_nothing_and_a_second_stop_does_nothing(self) -> None:
        """A server stopped cleanly leaves nothing behind; stopping it again is harmless."""
        server = ServerProcess(*NO_POOL).start()
        server.stop()
        server.stop()
        assert not server.running()
