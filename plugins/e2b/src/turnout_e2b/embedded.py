"""The local E2B-compatible server that the e2b backend starts for itself in development
and test when no API key is set.

One server per process, started on first need as a child process (`python -m
turnout_e2b_server`) bound to 127.0.0.1 on a free port, and stopped when the process exits
(the server kills every sandbox it holds when it stops), or within a second of this process
dying without stopping it (`--exit-with-parent`). It is a child process rather than a
thread so that its kernels and their process groups never share the caller's signals.

It always runs with a random API key, made here and handed over on the server's standard
input (`--api-key-stdin`): never on a command line, in an environment variable or in a
file, so code running in a sandbox, or anywhere else on the machine, has no way to read it
and drive the server (list or kill other sandboxes, change its settings). The key lives in
this process's memory only; `shared_server` returns it with the URL.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from turnout_e2b_server.isolation import unavailable_reason

from turnout.errors import InfrastructureError

__all__ = [
    "EmbeddedServer",
    "embedded_confinement",
    "new_api_key",
    "server_command",
    "server_environment",
    "shared_server",
    "stop_shared_server",
]

_URL = re.compile(r"(http://127\.0\.0\.1:\d+)")
_STARTUP_TIMEOUT_S = 60.0
# How long a fresh server may take to pre-start its kernels before executions are sent.
KERNELS_READY_S = 30.0
# The server's admin API (turnout_e2b_server.admin, not imported: it pulls in starlette).
_ADMIN_PREFIX = "/_turnout/admin"
# Loopback only: a proxy from the environment must not see the key.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# Variables the server never needs and a sandbox must never see, even by accident.
_WITHHELD = ("E2B_API_KEY", "E2B_ACCESS_TOKEN")
_lock = threading.Lock()
_process: subprocess.Popen[str] | None = None
_server: EmbeddedServer | None = None


@dataclass(frozen=True)
class EmbeddedServer:
    """Where the embedded server listens, and the key it accepts (and nothing else)."""

    url: str
    api_key: str = field(repr=False)


def new_api_key() -> str:
    """A random API key for a local server (256 bits)."""
    return secrets.token_urlsafe(32)


def embedded_confinement() -> bool:
    """Whether the embedded server's sandboxes will be confined (their own namespaces and
    network, an unprivileged user): the e2b backend's capabilities say so before the server
    runs, and the server is then started so that it must hold to it."""
    return unavailable_reason() is None


def server_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment to start a local server with: `base` (default: this process's)
    without the E2B credentials, and with loopback exempt from proxies."""
    env = dict(os.environ if base is None else base)
    for name in _WITHHELD:
        env.pop(name, None)
    env.setdefault("NO_PROXY", "127.0.0.1,localhost")
    return env


async def shared_server(*, create_delay_ms: int = 0) -> EmbeddedServer:
    """This process's embedded server (its URL and key), starting it if needed."""
    return await asyncio.to_thread(_start, create_delay_ms)


def server_command(*args: str) -> list[str]:
    """`python -m turnout_e2b_server` on a free port of 127.0.0.1, with `args`: it prints
    its URL on stdout once it is ready (the embedded server, ServerProcess and the chaos
    run all start it this way)."""
    return [
        sys.executable,
        *("-m", "turnout_e2b_server", "--host", "127.0.0.1", "--port", "0"),
        *args,
    ]


def _start(create_delay_ms: int) -> EmbeddedServer:
    global _process, _server
    with _lock:
        if _process is not None and _process.poll() is None and _server is not None:
            return _server
        api_key = new_api_key()
        # Where the e2b backend declares confined sandboxes (see embedded_confinement), a
        # server that cannot confine them anyway refuses to start instead of running them
        # unconfined.
        required = ("--require-isolation",) if embedded_confinement() else ()
        command = server_command(
            "--api-key-stdin",
            "--exit-with-parent",
            *required,
            *("--create-delay-ms", str(create_delay_ms)),
        )
        try:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.PIPE,
                text=True,
                start_new_session=True,
                env=server_environment(),
            )
        except OSError as exc:  # the host could not start it: not a bug in turnout
            raise InfrastructureError(
                f"could not start the embedded local E2B-compatible server: {exc}",
                backend="e2b",
            ) from exc
        assert process.stdin is not None
        try:
            process.stdin.write(api_key + "\n")
            process.stdin.close()
        except OSError:
            pass  # it died at once: reading its URL says so
        server = EmbeddedServer(_read_url(process, " ".join(required)), api_key)
        _process, _server = process, server
        atexit.register(stop_shared_server)
        _wait_for_kernels(server)
        return server


def _wait_for_kernels(server: EmbeddedServer, timeout_s: float = KERNELS_READY_S) -> None:
    """Wait, at most `timeout_s`, until the fresh server has pre-started its kernels.

    The server listens before its kernel pools are full, and boots them (four kernels per
    language, about half a second of CPU each) in the background. Executions sent meanwhile
    share the CPU with those boots: on a two-core machine a cell then takes several times
    its usual time, enough for a sub-second timeout to expire on `return 1`. Returns in any
    case: a server whose pools cannot fill (a language unavailable here) still serves.
    """
    deadline = time.monotonic() + timeout_s
    headers = {"X-API-KEY": server.api_key}
    while time.monotonic() < deadline:
        try:
            sizes = _admin_json(server, "config", headers)["pool_sizes"]
            pool = _admin_json(server, "stats", headers)["pool"]
        except (OSError, ValueError, KeyError, TypeError):
            return  # an admin API that does not answer is not worth waiting for
        if all(
            pool["idle"].get(language, 0) >= wanted or language in pool["unavailable"]
            for language, wanted in sizes.items()
        ):
            return
        time.sleep(0.1)


def _admin_json(server: EmbeddedServer, path: str, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(f"{server.url}{_ADMIN_PREFIX}/{path}", headers=headers)
    with _NO_PROXY.open(request, timeout=5) as response:
        return json.load(response)


def _read_url(process: subprocess.Popen[str], options: str) -> str:
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
            f"`{' '.join(['turnout e2b serve', options]).strip()}` by hand to see why)",
            retryable=False,
            backend="e2b",
        )
    return found[0]


def stop_shared_server() -> None:
    """Stop the embedded server (it kills its sandboxes); safe to call twice."""
    global _process, _server
    with _lock:
        process, _process, _server = _process, None, None
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
