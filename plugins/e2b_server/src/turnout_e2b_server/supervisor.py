"""The local E2B-compatible server as a child process: start, health, admin, stop.

Every user of the server runs it through `ServerProcess`: the e2b backend's embedded
default (one shared server per process), the tests (`testing.server_fixture`), `turnout
bench` and `turnout chaos`. Why a child process rather than a thread: the server's kernels
are process groups of their own; in another process they never share the caller's signals
or event loop, and a stop proves what matters, that every sandbox process is gone after.

The server runs as `python -m turnout_e2b_server` on a free port of 127.0.0.1, prints its
URL on stdout once it accepts requests, and stops within a second of its parent dying
(`--exit-with-parent`). It always requires an API key: a random one unless the caller
gives one, handed over on its standard input (`--api-key-stdin`), never on a command line,
in an environment variable or in a file, so code running in its sandboxes cannot find it
and drive the server. Its log (stderr) goes to a temporary file: `stderr_tail()` reads it.

`stop()` notes the kernel pids and the temp root (admin stats) and the server's
descendants, sends SIGTERM, and raises `ServerLeakError` if the server did not exit
cleanly, any of those processes survived, or its temp root is still there.

    with ServerProcess("--python-pool", "1") as server:        # or: async with
        AsyncSandbox.create(**server.sdk_options)
        server.inject({"kind": "create_503"})                  # or: await server.ainject(...)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from turnout_e2b_server import processes
from turnout_e2b_server.admin_client import AdminClient

__all__ = [
    "ServerLeakError",
    "ServerProcess",
    "ServerStartError",
    "first_line",
    "new_api_key",
    "server_command",
    "server_environment",
]

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
# Variables the server never needs and a sandbox must never see, even by accident.
_WITHHELD = ("E2B_API_KEY", "E2B_ACCESS_TOKEN")


class ServerStartError(RuntimeError):
    """The server did not start: it exited, or printed no URL in time (the message has the
    end of its log)."""


class ServerLeakError(AssertionError):
    """The server left something behind: a process, its temp directory, or a bad exit."""

    def __init__(self, problems: list[str], log_tail: str = "") -> None:
        super().__init__("; ".join(problems) + (f"\n{log_tail}" if log_tail else ""))
        self.problems = problems


def new_api_key() -> str:
    """A random API key for a local server (256 bits)."""
    return secrets.token_urlsafe(32)


def server_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment to start a server with: `base` (default: this process's) without
    the E2B credentials, and with loopback exempt from proxies."""
    env = dict(os.environ if base is None else base)
    for name in _WITHHELD:
        env.pop(name, None)
    env.setdefault("NO_PROXY", "127.0.0.1,localhost")
    return env


def server_command(*args: str) -> list[str]:
    """`python -m turnout_e2b_server` on a free port of 127.0.0.1, with `args`."""
    return [
        sys.executable,
        *("-m", "turnout_e2b_server", "--host", "127.0.0.1", "--port", "0"),
        *args,
    ]


class ServerProcess(AdminClient):
    """One server in a child process, from `start` to `stop` (a context manager, sync or
    async); the admin calls of `AdminClient` talk to it with its key.

    `args` are the server's options (`python -m turnout_e2b_server --help`); a `--host` or
    `--port` among them replaces 127.0.0.1 and port 0. Without `hand_over_key` the server
    gets no key and accepts any non-empty one (only where nothing untrusted can reach it).
    With `log_to_stderr` its log goes to this process's stderr instead of `stderr_tail`.
    """

    def __init__(
        self,
        *args: str,
        api_key: str | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
        wait_for_pool: bool = True,
        hand_over_key: bool = True,
        log_to_stderr: bool = False,
    ) -> None:
        self.args = args
        self.api_key = api_key or new_api_key()
        self.url = ""
        self._env = env
        self._startup_timeout_s = startup_timeout_s
        self._wait_for_pool = wait_for_pool
        self._hand_over_key = hand_over_key
        self._log_to_stderr = log_to_stderr
        self._process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe, so a chatty server never blocks on it; closed by stop().
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def sdk_options(self) -> dict[str, str]:
        """Keyword arguments that point the unmodified SDK at this server."""
        return {"api_key": self.api_key, "api_url": self.url, "sandbox_url": self.url}

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server has not been started"
        return self._process.pid

    def running(self) -> bool:
        """Whether the server was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the server and wait for the URL line it prints when ready, then (unless
        told not to) for its kernel pool; raises ServerStartError if it does not start."""
        key = ("--api-key-stdin",) if self._hand_over_key else ()
        process = self._process = subprocess.Popen(
            server_command("--exit-with-parent", *key, *self.args),
            stdin=subprocess.PIPE if self._hand_over_key else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if self._log_to_stderr else self._stderr,
            env=server_environment(self._env),
            start_new_session=True,
        )
        stdout = process.stdout
        assert stdout is not None
        if process.stdin is not None:
            with contextlib.suppress(OSError):  # it died at once: the URL line says so
                process.stdin.write(self.api_key.encode() + b"\n")
                process.stdin.close()
        started = time.monotonic()
        line = first_line(stdout, self._startup_timeout_s)
        if not line.startswith("http://"):
            self._process = None
            process.kill()
            process.wait()
            stdout.close()
            message = f"the local E2B-compatible server did not start: {line!r}"
            tail = self.stderr_tail()
            self._stderr.close()
            raise ServerStartError(f"{message}\n{tail}".rstrip())
        self.url = line
        if self._wait_for_pool:
            try:
                self.wait_for_pool(self._startup_timeout_s - (time.monotonic() - started))
            except BaseException:
                self.stop(check=False)  # a clean stop: its kernels and temp root go too
                raise
        return self

    def wait_for_pool(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Wait until every kernel language's pool is full (or cannot be filled here).

        A server whose pool is still filling starts the kernels of new sandboxes on demand,
        and boots the pool's kernels in the background meanwhile: executions then share
        the CPU with those boots, and creates take seconds instead of milliseconds.
        Raises TimeoutError when `timeout_s` runs out first.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        sizes = self.admin("GET", "config")["pool_sizes"]
        while True:
            pool = self.stats()["pool"]
            if all(
                pool["idle"].get(language, 0) >= size or language in pool["unavailable"]
                for language, size in sizes.items()
                if language in pool["idle"]
            ):
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the server's kernel pool did not fill: {pool}")
            time.sleep(0.05)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S, *, check: bool = True) -> None:
        """SIGTERM the server and wait (SIGKILL after `timeout_s`); safe to call twice.

        With `check`, raise ServerLeakError if it had exited before, ignored SIGTERM,
        exited with a non-zero status, or left a kernel process or its temp root behind.
        """
        process, self._process = self._process, None
        if process is None:
            return
        try:
            problems = self._stop(process, timeout_s, check=check)
            if problems and check:
                raise ServerLeakError(problems, self.stderr_tail())
        finally:
            self._stderr.close()
            if process.stdout is not None:
                process.stdout.close()

    def _stop(
        self, process: subprocess.Popen[bytes], timeout_s: float, *, check: bool
    ) -> list[str]:
        if process.poll() is not None:
            return [f"the server had already exited with status {process.returncode}"]
        kernels, root = self._snapshot(process.pid) if check else ({}, None)
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return ["the server ignored SIGTERM"]
        problems = [] if status == 0 else [f"the server exited with status {status}"]
        deadline = time.monotonic() + 5.0
        alive = [pid for pid, start in kernels.items() if processes.running(pid, start)]
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = [pid for pid in alive if processes.running(pid, kernels[pid])]
        if alive:
            problems.append(f"processes still running: {sorted(alive)}")
        if root is not None and Path(root).exists():
            problems.append(f"temp root not removed: {root}")
        return problems

    def _snapshot(self, pid: int) -> tuple[dict[int, str], str | None]:
        """Kernel pids and the temp root per the server, plus its descendants, each pid
        with its start time."""
        pids = processes.descendants(pid)
        root = None
        with contextlib.suppress(httpx.HTTPError, KeyError, TypeError, ValueError):
            stats = self.stats()
            root = str(stats["root"])
            pids.update(stats["pool"]["pids"])
            for sandbox in stats["sandboxes"]:
                pids.update(sandbox["kernel_pids"])
        return processes.start_times(pids), root

    def stderr_tail(self, limit: int = 4000) -> str:
        """The end of the server's log (its stderr), for failure messages ("" once stopped)."""
        with contextlib.suppress(ValueError, OSError):
            # The log of a long-lived server grows: only its last bytes are read (a
            # character is at most four of them).
            size = self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, size - 4 * limit))
            return self._stderr.read().decode(errors="replace")[-limit:]
        return ""

    async def astart(self) -> Self:
        """`start` in a worker thread; the async admin calls then share one connection."""
        await asyncio.to_thread(self.start)
        self.open_async()
        return self

    async def astop(self, timeout_s: float = STOP_TIMEOUT_S, *, check: bool = True) -> None:
        """`stop` in a worker thread, after closing the async admin connection."""
        await self.close_async()
        await asyncio.to_thread(self.stop, timeout_s, check=check)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()


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
