"""The local E2B-compatible server a chaos run talks to, and its admin API.

The server runs as `python -m turnout_e2b.server` in a child process bound to 127.0.0.1
(the same way `turnout_e2b.server.testing.ServerProcess` starts it, without needing pytest):
it prints its URL when ready and, on SIGTERM, kills every sandbox and exits 0. `stop`
checks that: a bad exit status, a kernel process still alive or its temp root left
behind are reported as leaks of the server itself.

`Admin` talks to the admin API (`/_turnout/admin`: faults, config, stats) asynchronously,
so that queueing a fault or polling the live sandboxes never blocks the executions.

The server requires a random API key, made here and handed over on its standard input
(never a command line, an environment variable or a file: code in its sandboxes must not
be able to drive it); `ChaosServer.api_key` holds it for the admin calls and the backend.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turnout.errors import ConfigurationError, InfrastructureError

if TYPE_CHECKING:
    import httpx

__all__ = ["Admin", "ChaosServer"]

ADMIN = "/_turnout/admin"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class ChaosServer:
    """`python -m turnout_e2b.server` on a free loopback port, from `start` to `stop`."""

    def __init__(self, *args: str) -> None:
        if importlib.util.find_spec("turnout_e2b") is None:
            raise ConfigurationError(
                "turnout chaos needs the e2b plugin (turnout-e2b) and its local server"
            )
        from turnout_e2b.embedded import new_api_key

        self.args = args
        self.api_key = new_api_key()
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self._kernels: dict[int, str] = {}
        self._root: str | None = None

    def start(self) -> ChaosServer:
        from turnout_e2b.embedded import server_command, server_environment

        command = server_command("--exit-with-parent", "--api-key-stdin", *self.args)
        environment = server_environment()  # without E2B_API_KEY: never hand it the cloud's
        environment["NO_PROXY"] = "127.0.0.1,localhost"
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=environment,
        )
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):  # it died at once: the URL line says so
            self._process.stdin.write(self.api_key.encode() + b"\n")
            self._process.stdin.close()
        line = self._first_line(STARTUP_TIMEOUT_S)
        if not line.startswith("http://127.0.0.1:"):
            self._process.kill()
            self._process.wait()
            raise InfrastructureError(
                f"the local E2B-compatible server did not start: {line!r}\n{self.stderr_tail()}",
                retryable=False,
            )
        self.url = line
        return self

    def remember(self, stats: Mapping[str, Any]) -> None:
        """Keep the kernel processes and the temp root of the latest admin stats answer, to
        check after `stop` that they are gone (each pid with its start time, so a pid the
        system reused for another process is not mistaken for a survivor)."""
        self._root = str(stats.get("root") or self._root or "") or None
        pids = list(stats.get("pool", {}).get("pids", []))
        for sandbox in stats.get("sandboxes", []):
            pids.extend(sandbox.get("kernel_pids", []))
        self._kernels = {pid: start for pid in pids if (start := _start_time(pid)) is not None}

    def stop(self) -> list[str]:
        """SIGTERM the server and wait; what it left behind (empty: nothing)."""
        process = self._process
        problems: list[str] = []
        if process is None:
            return problems
        try:
            if process.poll() is not None:
                return [f"the server had already exited with status {process.returncode}"]
            process.send_signal(signal.SIGTERM)
            try:
                status = process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                return ["the server ignored SIGTERM"]
            if status != 0:
                problems.append(f"the server exited with status {status}")
            deadline = time.monotonic() + 5.0
            alive = [pid for pid, start in self._kernels.items() if _running(pid, start)]
            while alive and time.monotonic() < deadline:
                time.sleep(0.05)
                alive = [pid for pid in alive if _running(pid, self._kernels[pid])]
            if alive:
                problems.append(f"kernel processes still running: {sorted(alive)}")
            if self._root is not None and Path(self._root).exists():
                problems.append(f"temp root not removed: {self._root}")
            return problems
        finally:
            self._process = None
            self._stderr.close()

    def stderr_tail(self, limit: int = 2000) -> str:
        with contextlib.suppress(ValueError, OSError):
            self._stderr.seek(0)
            return self._stderr.read().decode(errors="replace")[-limit:]
        return ""

    def _first_line(self, timeout_s: float) -> str:
        from turnout_e2b.server.testing import first_line

        assert self._process is not None
        assert self._process.stdout is not None
        return first_line(self._process.stdout, timeout_s)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (None: no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _start_time(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def _running(pid: int, start: str) -> bool:
    """Whether the process `pid` that started at `start` is still alive (not a zombie)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[19] == start and fields[0] not in ("Z", "X")


class Admin:
    """The server's admin API, asynchronously (one pooled loopback connection)."""

    def __init__(self, url: str, api_key: str) -> None:
        import httpx

        self._client: httpx.AsyncClient = httpx.AsyncClient(
            base_url=url,
            trust_env=False,
            timeout=30.0,
            headers={"X-API-KEY": api_key},
        )

    async def _call(self, method: str, path: str, payload: Any = None) -> Any:
        response = await self._client.request(method, f"{ADMIN}/{path}", json=payload)
        response.raise_for_status()
        return response.json() if response.content else None

    async def configure(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "config", changes)
        return result

    async def inject(self, faults: Sequence[Mapping[str, Any]]) -> None:
        await self._call("POST", "faults", {"faults": [dict(fault) for fault in faults]})

    async def pending_faults(self) -> list[dict[str, Any]]:
        result: dict[str, Any] = await self._call("GET", "faults")
        return list(result["faults"])

    async def clear_faults(self) -> None:
        await self._call("DELETE", "faults")

    async def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "stats")
        return result

    async def aclose(self) -> None:
        await self._client.aclose()
