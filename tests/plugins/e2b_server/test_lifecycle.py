"""Process lifecycle: kills, server stop and the two ways of running the server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psutil
import pytest
from e2b_code_interpreter import AsyncSandbox
from turnout_e2b_server import LocalE2BServer, ServerConfig
from turnout_e2b_server.testing import ServerProcess

from .support import gone

SPAWN_GRANDCHILD = "import subprocess; subprocess.Popen(['sleep', '300']).pid"


def exists(path: Path) -> bool:
    """Whether a host path exists (a plain function: the check is instantaneous)."""
    return path.exists()


async def start_processes(sandbox: AsyncSandbox, server: ServerProcess) -> list[int]:
    """Run code that leaves a grandchild behind; return its host pid and the kernels'.

    The pid the code itself sees is its PID namespace's, so the grandchild is looked up
    among the kernels' descendants on the host.
    """
    assert (await sandbox.run_code(SPAWN_GRANDCHILD)).error is None
    entry = next(s for s in server.stats()["sandboxes"] if s["sandboxID"] == sandbox.sandbox_id)
    kernels = list(entry["kernel_pids"])
    grandchildren = [
        process.pid
        for kernel in kernels
        for process in psutil.Process(kernel).children(recursive=True)
        if process.cmdline() == ["sleep", "300"]
    ]
    assert len(grandchildren) == 1
    return [*grandchildren, *kernels]


class TestSandboxKill:
    async def test_kill_ends_the_kernel_and_its_children(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """Killing a sandbox kills its kernel's whole process group, grandchildren too."""
        sandbox = await AsyncSandbox.create(**sdk)
        pids = await start_processes(sandbox, e2b_server)
        assert not gone(pids, within_s=0)
        await sandbox.kill()
        assert gone(pids)


class TestServerStop:
    async def test_stopping_the_server_kills_every_sandbox_process(self) -> None:
        """After SIGTERM the server exits 0 and no sandbox process or directory remains."""
        server = ServerProcess("--python-pool", "1", "--javascript-pool", "0").start()
        try:
            sandboxes = [await AsyncSandbox.create(**server.sdk_options) for _ in range(2)]
            pids = [pid for s in sandboxes for pid in await start_processes(s, server)]
            root = Path(server.stats()["root"])
        finally:
            server.stop()  # raises ServerLeakError if anything survived
        assert gone(pids)
        assert not exists(root)

    def test_prints_its_url_as_the_first_line(self) -> None:
        """The CLI's first stdout line is the base URL on 127.0.0.1."""
        with ServerProcess("--python-pool", "0", "--javascript-pool", "0") as server:
            assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)


class TestInProcessServer:
    async def test_serves_the_sdk_and_cleans_up_on_stop(self) -> None:
        """LocalE2BServer in a thread runs code, and stop() kills the kernel it used."""
        config = ServerConfig(pool_sizes={"python": 0, "javascript": 0})
        with LocalE2BServer(config) as server:
            options = {"api_key": "k", "api_url": server.url, "sandbox_url": server.url}
            sandbox = await AsyncSandbox.create(**options)
            assert (await sandbox.run_code("21 * 2")).text == "42"
            assert server.state is not None
            root = server.state.root
            pids = [pid for s in server.state.sandboxes.live() for pid in s.contexts.pids()]
        assert pids
        assert gone(pids)
        assert not exists(root)

    def test_binds_the_loopback_interface_by_default(self) -> None:
        """Without a host argument the server listens on 127.0.0.1 only."""
        server = LocalE2BServer(ServerConfig(pool_sizes={}))
        try:
            assert server.url.startswith("http://127.0.0.1:")
        finally:
            server.stop()

    def test_refuses_invalid_settings(self) -> None:
        """A negative create delay is refused before anything starts."""
        with pytest.raises(ValueError, match="create_delay_ms"):
            LocalE2BServer(ServerConfig(create_delay_ms=-5))
