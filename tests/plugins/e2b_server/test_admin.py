"""The admin API: settings, fault queue, counters and reset, all behind the API key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from e2b_code_interpreter import AsyncSandbox
from turnout_e2b_server.testing import ServerProcess


def admin(server: ServerProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A raw admin call with the test key (kwargs go to httpx)."""
    headers = {"X-API-KEY": server.api_key, **kwargs.pop("headers", {})}
    return httpx.request(
        method, f"{server.url}/_turnout/admin/{path}", headers=headers, trust_env=False, **kwargs
    )


class TestAdminAuth:
    def test_requires_the_api_key(self, e2b_server: ServerProcess) -> None:
        """Admin calls without X-API-KEY answer 401."""
        response = httpx.get(f"{e2b_server.url}/_turnout/admin/stats", trust_env=False)
        assert response.status_code == 401


class TestAdminKey:
    @pytest.mark.parametrize(
        ("method", "path"), [("GET", "stats"), ("GET", "config"), ("POST", "reset")]
    )
    def test_another_key_is_refused(
        self, e2b_server: ServerProcess, method: str, path: str
    ) -> None:
        """Admin calls with a key other than the server's answer 401."""
        response = admin(e2b_server, method, path, headers={"X-API-KEY": "any-key"})
        assert response.status_code == 401

    def test_the_key_cannot_be_changed(self, e2b_server: ServerProcess) -> None:
        """Setting api_key through the admin API answers 400: the server keeps its key."""
        response = admin(e2b_server, "POST", "config", json={"api_key": "attacker"})
        assert response.status_code == 400
        assert "fixed" in response.json()["message"]
        assert admin(e2b_server, "GET", "stats").status_code == 200

    def test_the_key_is_never_shown(self, e2b_server: ServerProcess) -> None:
        """GET config lists every setting but the key."""
        config = admin(e2b_server, "GET", "config")
        assert "api_key" not in config.json()
        assert e2b_server.api_key not in config.text


class TestConfig:
    def test_get_returns_every_setting(self, e2b_server: ServerProcess) -> None:
        """GET config lists the settings with their current values."""
        config = admin(e2b_server, "GET", "config").json()
        assert config["keepalive_s"] == 5.0
        assert config["pool_sizes"] == {"python": 2, "javascript": 2}

    def test_post_changes_only_the_given_settings(self, e2b_server: ServerProcess) -> None:
        """A partial update changes the named settings and keeps the rest."""
        config = admin(e2b_server, "POST", "config", json={"create_delay_ms": 150}).json()
        assert (config["create_delay_ms"], config["max_sandboxes"]) == (150, None)

    @pytest.mark.parametrize(
        "change", [{"create_delay_ms": -1}, {"no_such_setting": 1}, {"keepalive_s": "x"}]
    )
    def test_invalid_settings_are_refused(
        self, e2b_server: ServerProcess, change: dict[str, Any]
    ) -> None:
        """An invalid or unknown setting answers 400 and changes nothing."""
        response = admin(e2b_server, "POST", "config", json=change)
        assert (response.status_code, response.json()["code"]) == (400, 400)
        assert admin(e2b_server, "GET", "config").json()["create_delay_ms"] == 0


class TestFaultQueue:
    def test_queued_faults_are_listed(self, e2b_server: ServerProcess) -> None:
        """POSTed faults are listed, with their defaults filled in."""
        admin(e2b_server, "POST", "faults", json=[{"kind": "slow_kill", "delay_ms": 10}])
        (fault,) = admin(e2b_server, "GET", "faults").json()["faults"]
        assert (fault["kind"], fault["delay_ms"], fault["count"]) == ("slow_kill", 10, 1)

    def test_delete_clears_the_queue(self, e2b_server: ServerProcess) -> None:
        """DELETE faults empties the queue."""
        e2b_server.inject({"kind": "create_error", "status": 503})
        admin(e2b_server, "DELETE", "faults")
        assert admin(e2b_server, "GET", "faults").json() == {"faults": []}

    @pytest.mark.parametrize(
        "fault",
        [
            {"kind": "meteor"},
            {"kind": "drop_stream"},
            {"kind": "create_error", "status": 200},
            {"kind": "slow_kill", "delay_ms": 5, "colour": "red"},
        ],
    )
    def test_invalid_faults_are_refused(
        self, e2b_server: ServerProcess, fault: dict[str, Any]
    ) -> None:
        """A fault with an unknown kind, a bad status or unknown fields answers 400."""
        response = admin(e2b_server, "POST", "faults", json=[fault])
        assert response.status_code == 400

    async def test_fault_is_consumed_by_the_call_it_hits(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A count-1 fault fires once and leaves the queue empty."""
        e2b_server.inject({"kind": "slow_kill", "delay_ms": 1})
        sandbox = await AsyncSandbox.create(**sdk)
        await sandbox.kill()
        assert admin(e2b_server, "GET", "faults").json() == {"faults": []}
        assert e2b_server.stats()["counters"]["faults_fired"] == 1


class TestStats:
    async def test_lists_live_sandboxes_with_kernel_pids(
        self, e2b_server: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """A sandbox is listed with the pids of its two kernels, python and javascript."""
        await sandbox.run_code("1")
        entry = next(
            s for s in e2b_server.stats()["sandboxes"] if s["sandboxID"] == sandbox.sandbox_id
        )
        assert len(set(entry["kernel_pids"])) == 2

    async def test_counts_creates_and_kills(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """Creates and kills are counted."""
        await (await AsyncSandbox.create(**sdk)).kill()
        counters = e2b_server.stats()["counters"]
        assert (counters["creates"], counters["kills"]) == (1, 1)


class TestReset:
    async def test_restores_config_and_clears_faults(self, e2b_server: ServerProcess) -> None:
        """Reset puts the start-up settings back and empties the fault queue."""
        e2b_server.configure(max_sandboxes=3)
        e2b_server.inject({"kind": "slow_kill", "delay_ms": 1})
        e2b_server.reset()
        assert admin(e2b_server, "GET", "config").json()["max_sandboxes"] is None
        assert admin(e2b_server, "GET", "faults").json() == {"faults": []}

    async def test_can_kill_every_sandbox(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """Reset with kill_sandboxes leaves no live sandbox."""
        sandbox = await AsyncSandbox.create(**sdk)
        stats = e2b_server.reset(kill_sandboxes=True)
        assert stats["live_sandboxes"] == 0
        assert not await sandbox.is_running()
