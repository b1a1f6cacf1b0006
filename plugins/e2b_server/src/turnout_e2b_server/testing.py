"""pytest helpers: the local E2B-compatible server in a subprocess, checked for leaks.

Why a subprocess: the server's kernels are process groups of their own; in a separate
process they never share the test's signals or event loop, and a stop proves what matters
in CI, that every sandbox process is gone afterwards. `ServerProcess.stop()` snapshots the
kernel pids (from the admin stats) and the server's descendants, sends SIGTERM, and raises
`ServerLeakError` if the server did not exit cleanly, any of those processes survived, or
its temp directory is still there.

In a conftest.py:

    from turnout_e2b_server.testing import server_fixture

    e2b_server = server_fixture("--python-pool", "1", scope="session")

    async def test_something(e2b_server):
        sandbox = await AsyncSandbox.create(**e2b_server.sdk_options)

or use `ServerProcess` directly as a context manager (it needs no pytest: `turnout bench`
uses it too). Admin helpers (`configure`,
`inject`, `stats`, `reset`) talk to the admin API with the same API key.

The server always requires its API key: a random one unless the caller gives one, handed
over on its standard input (see `turnout_e2b.embedded`), so code running in its sandboxes
cannot find it on a command line, in an environment or in a file.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

import httpx
from turnout_e2b.embedded import new_api_key, server_command, server_environment

try:
    import psutil
except ImportError:  # a development dependency; os.kill() is the fallback
    psutil = None  # type: ignore[assignment]

__all__ = ["ServerLeakError", "ServerProcess", "first_line", "server_fixture"]

ADMIN = "/_turnout/admin"
Scope = Literal["session", "package", "module", "class", "function"]


class ServerLeakError(AssertionError):
    """The server left something behind: a process, its temp directory, or a bad exit."""


class ServerProcess:
    """`python -m turnout_e2b_server` on a free port of 127.0.0.1, until `stop()`."""

    def __init__(
        self,
        *args: str,
        api_key: str | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout_s: float = 60.0,
    ) -> None:
        self.args = args
        self.api_key = api_key or new_api_key()
        self._env = env
        self._startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        # Closed in __exit__; a file, not a pipe, so a chatty server never blocks on it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.url = ""

    @property
    def sdk_options(self) -> dict[str, str]:
        """Keyword arguments that point the unmodified SDK at this server."""
        return {"api_key": self.api_key, "api_url": self.url, "sandbox_url": self.url}

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server has not been started"
        return self._process.pid

    def start(self) -> Self:
        """Start the server, wait for the URL line it prints when ready, then for its pool."""
        command = server_command("--exit-with-parent", "--api-key-stdin", *self.args)
        env = server_environment(None if self._env is None else dict(self._env))
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        assert self._process.stdin is not None
        with contextlib.suppress(OSError):  # it died at once: the URL line says so
            self._process.stdin.write(self.api_key.encode() + b"\n")
            self._process.stdin.close()
        started = time.monotonic()
        line = self._read_line(self._startup_timeout_s)
        if not line.startswith("http://"):
            self._process.kill()
            self._process.wait()
            raise RuntimeError(f"the server did not start: {line!r}\n{self.stderr_tail()}")
        self.url = line
        try:
            self.wait_for_pool(self._startup_timeout_s - (time.monotonic() - started))
        except BaseException:
            self._process.terminate()  # a clean stop: its kernels and temp root go too
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            raise
        return self

    def wait_for_pool(self, timeout_s: float = 60.0) -> None:
        """Wait until every kernel language's pool is full (or cannot be filled here).

        A server whose pool is still filling starts the kernels of new sandboxes on demand,
        so creates take seconds instead of milliseconds: tests that time things would
        measure the server's own start-up.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            sizes = self.admin("GET", "config")["pool_sizes"]
            pool = self.stats()["pool"]
            if all(
                pool["idle"].get(language, 0) >= size or language in pool["unavailable"]
                for language, size in sizes.items()
                if language in pool["idle"]
            ):
                return
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the server's kernel pool did not fill: {pool}")
            time.sleep(0.05)

    def admin(self, method: str, path: str, payload: Any = None) -> Any:
        """Call the admin API (path relative to /_turnout/admin); return the JSON body."""
        with httpx.Client(base_url=self.url, trust_env=False, timeout=30.0) as client:
            response = client.request(
                method, f"{ADMIN}/{path}", json=payload, headers={"X-API-KEY": self.api_key}
            )
        response.raise_for_status()
        return response.json() if response.content else None

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings of the running server (see ServerConfig); returns them all."""
        result: dict[str, Any] = self.admin("POST", "config", changes)
        return result

    def inject(self, *faults: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Queue scripted faults (see turnout_e2b_server.faults); returns the queue."""
        result: dict[str, Any] = self.admin("POST", "faults", {"faults": list(faults)})
        return list(result["faults"])

    def stats(self) -> dict[str, Any]:
        """Live sandboxes with their kernel pids, counters and the kernel pool."""
        result: dict[str, Any] = self.admin("GET", "stats")
        return result

    def reset(self, *, kill_sandboxes: bool = False) -> dict[str, Any]:
        """Clear faults and counters, restore the start-up config (and kill sandboxes)."""
        result: dict[str, Any] = self.admin("POST", "reset", {"kill_sandboxes": kill_sandboxes})
        return result

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the server, wait, and raise ServerLeakError if anything survived."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        pids, root = self._snapshot()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise ServerLeakError(f"the server ignored SIGTERM\n{self.stderr_tail()}") from None
        problems = []
        if code != 0:
            problems.append(f"exit status {code}")
        deadline = time.monotonic() + 5.0
        alive = [pid for pid in pids if _running(pid)]
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = [pid for pid in alive if _running(pid)]
        if alive:
            problems.append(f"processes still running: {alive}")
        if root is not None and Path(root).exists():
            problems.append(f"temp root not removed: {root}")
        if problems:
            raise ServerLeakError("; ".join(problems) + "\n" + self.stderr_tail())

    def stderr_tail(self, limit: int = 4000) -> str:
        """The end of the server's stderr (its log), for failure messages."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-limit:]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        finally:
            self._stderr.close()

    def _snapshot(self) -> tuple[set[int], str | None]:
        """Kernel pids and the temp root per the server, plus its descendants (psutil)."""
        pids: set[int] = set()
        root = None
        try:
            stats = self.stats()
            root = stats["root"]
            pids.update(stats["pool"]["pids"])
            for sandbox in stats["sandboxes"]:
                pids.update(sandbox["kernel_pids"])
        except (httpx.HTTPError, KeyError):
            pass
        if psutil is not None:
            with contextlib.suppress(psutil.Error):
                pids.update(p.pid for p in psutil.Process(self.pid).children(recursive=True))
        return pids, root

    def _read_line(self, timeout_s: float) -> str:
        assert self._process is not None
        assert self._process.stdout is not None
        return first_line(self._process.stdout, timeout_s)


def _running(pid: int) -> bool:
    """Whether `pid` is a live (not zombie) process."""
    if psutil is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def server_fixture(
    *args: str, scope: Scope = "session", api_key: str | None = None
) -> Callable[[], Iterator[ServerProcess]]:
    """A pytest fixture: a ServerProcess started with `args`, leak-checked at teardown."""
    import pytest  # here, so that ServerProcess works without pytest (`turnout bench`)

    @pytest.fixture(scope=scope)
    def _server() -> Iterator[ServerProcess]:
        with ServerProcess(*args, api_key=api_key) as server:
            yield server

    return _server


def first_line(stdout: IO[bytes], timeout_s: float) -> str:
    """The first line a starting server prints (its URL), or what came before `timeout_s`
    ran out or the stream ended; never blocks longer than `timeout_s`."""
    selector = selectors.DefaultSelector()
    selector.register(stdout, selectors.EVENT_READ)
    data = b""
    deadline = time.monotonic() + timeout_s
    try:
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                break
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                break
            data += chunk
    finally:
        selector.close()
    return data.decode(errors="replace").split("\n", 1)[0].strip()
