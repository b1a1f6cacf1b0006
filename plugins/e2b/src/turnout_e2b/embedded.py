"""The local E2B-compatible server that the e2b backend starts for itself in development
and test when no API key is set.

One server per process, started on first need as a child process (`python -m
turnout_e2b.server`) bound to 127.0.0.1 on a free port, and stopped when the process exits
(the server kills every sandbox it holds when it stops). It is a child process rather than
a thread so that its kernels and their process groups never share the caller's signals.
"""

from __future__ import annotations

import asyncio
import atexit
import re
import subprocess
import sys
import threading

from turnout.errors import InfrastructureError

__all__ = ["server_command", "shared_server", "stop_shared_server"]

_URL = re.compile(r"(http://127\.0\.0\.1:\d+)")
_STARTUP_TIMEOUT_S = 60.0
_lock = threading.Lock()
_process: subprocess.Popen[str] | None = None
_url: str | None = None


async def shared_server(*, create_delay_ms: int = 0) -> str:
    """The URL of this process's embedded server, starting it if needed."""
    return await asyncio.to_thread(_start, create_delay_ms)


def server_command(*args: str) -> list[str]:
    """`python -m turnout_e2b.server` on a free port of 127.0.0.1, with `args`: it prints
    its URL on stdout once it is ready (the embedded server, ServerProcess and the chaos
    run all start it this way)."""
    return [
        sys.executable,
        *("-m", "turnout_e2b.server", "--host", "127.0.0.1", "--port", "0"),
        *args,
    ]


def _start(create_delay_ms: int) -> str:
    global _process, _url
    with _lock:
        if _process is not None and _process.poll() is None and _url is not None:
            return _url
        command = server_command("--create-delay-ms", str(create_delay_ms))
        try:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:  # the host could not start it: not a bug in turnout
            raise InfrastructureError(
                f"could not start the embedded local E2B-compatible server: {exc}",
                backend="e2b",
            ) from exc
        url = _read_url(process)
        _process, _url = process, url
        atexit.register(stop_shared_server)
        return url


def _read_url(process: subprocess.Popen[str]) -> str:
    found: list[str] = []

    def reader() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            match = _URL.search(line)
            if match:
                found.append(match.group(1))
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(_STARTUP_TIMEOUT_S)
    if not found:
        process.kill()
        raise InfrastructureError(
            "the embedded local E2B-compatible server did not start (run "
            "`turnout e2b serve` by hand to see why)",
            retryable=False,
            backend="e2b",
        )
    return found[0]


def stop_shared_server() -> None:
    """Stop the embedded server (it kills its sandboxes); safe to call twice."""
    global _process, _url
    with _lock:
        process, _process, _url = _process, None, None
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
