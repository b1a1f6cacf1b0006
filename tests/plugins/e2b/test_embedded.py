"""The embedded default: development/test without a key start a local server by themselves."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from turnout_e2b import E2BBackend, embedded

from turnout import BackendSettings
from turnout.contract import prepare_request
from turnout.errors import ConfigurationError
from turnout.models import parse_config


class TestEmbeddedServer:
    async def test_test_environment_without_key_starts_and_uses_a_local_server(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no E2B_API_KEY and no URL, an execution in `test` runs on an embedded server."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        monkeypatch.delenv("E2B_API_URL", raising=False)
        backend = E2BBackend(BackendSettings(environment="test"))
        config = parse_config({"language": "python", "code": "return 40 + 2"})
        request = prepare_request(config, {}, execution_id="embedded1", max_result_bytes=10**6)
        try:
            result = await backend.execute(request)
            assert b'"value":42' in (result.result or b"")
            assert backend.endpoint.startswith("local E2B-compatible server at http://127.0.0.1:")
            server = embedded._server_process
            assert server is not None
            assert server.running()
        finally:
            await backend.aclose()
            pid = embedded._server_process.pid if embedded._server_process else None
            embedded.stop_shared_server()
        assert (
            pid is None
            or not psutil.pid_exists(pid)
            or (psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        )

    async def test_the_embedded_server_is_handed_out_with_its_kernels_started(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A fresh embedded server is returned once its kernel pools are full, so the first
        executions do not share the CPU with the boot of eight kernels."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        try:
            server = await embedded.shared_server()
            async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
                headers = {"X-API-KEY": server.api_key}
                sizes = (await client.get("/_turnout/admin/config", headers=headers)).json()
                stats = (await client.get("/_turnout/admin/stats", headers=headers)).json()
        finally:
            embedded.stop_shared_server()
        assert stats["pool"]["idle"] == sizes["pool_sizes"]

    async def test_the_embedded_server_takes_only_its_random_key(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The embedded server refuses every key but its own random one, which appears in
        neither its command line nor its environment."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        try:
            server = await embedded.shared_server()
            process = psutil.Process(
                embedded._server_process.pid if embedded._server_process else 0
            )
            exposed = " ".join(process.cmdline()) + repr(process.environ())
            async with httpx.AsyncClient(base_url=server.url, trust_env=False) as client:
                refused = await client.get(
                    "/v2/sandboxes", headers={"X-API-KEY": "turnout-local-server"}
                )
                accepted = await client.get("/v2/sandboxes", headers={"X-API-KEY": server.api_key})
        finally:
            embedded.stop_shared_server()
        assert len(server.api_key) >= 32
        assert server.api_key not in exposed
        assert (refused.status_code, accepted.status_code) == (401, 200)

    def test_the_embedded_server_stops_when_its_process_dies(self, tmp_path: Path) -> None:
        """A process killed without stopping its embedded server leaves nothing behind: the
        server sees its parent gone and stops, with its sandboxes."""
        script = tmp_path / "owner.py"
        script.write_text(
            "import asyncio, os\n"
            "from turnout_e2b import embedded\n"
            "asyncio.run(embedded.shared_server())\n"
            "assert embedded._server_process is not None\n"
            "print(embedded._server_process.pid, flush=True)\n"
            "os.kill(os.getpid(), 9)\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "E2B_API_KEY"}
        owner = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
        )
        server = int(owner.stdout.split()[0])
        deadline = time.monotonic() + 30
        while psutil.pid_exists(server) and time.monotonic() < deadline:
            with contextlib.suppress(psutil.Error):
                if psutil.Process(server).status() == psutil.STATUS_ZOMBIE:
                    break
            time.sleep(0.2)
        alive = psutil.pid_exists(server) and psutil.Process(server).status() != "zombie"
        if alive:
            os.kill(server, 9)
        assert owner.returncode == -9
        assert not alive


class TestWithoutTheLocalServer:
    def test_the_embedded_default_says_what_to_install(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without turnout-e2b-server the embedded default fails with a ConfigurationError
        naming the extra to install (or the key to set), not with an ImportError."""
        for name in [n for n in sys.modules if n.split(".")[0] == "turnout_e2b_server"]:
            monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, "turnout_e2b_server", None)
        with pytest.raises(ConfigurationError) as caught:
            embedded._start(0)
        assert "install turnout-e2b[local-server] or set E2B_API_KEY" in caught.value.message
