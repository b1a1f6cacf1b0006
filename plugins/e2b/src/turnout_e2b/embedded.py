"""The local E2B-compatible server that the e2b backend starts for itself in development
and test when no API key is set.

One server per process, started on first need and stopped when the process exits (the
server kills every sandbox it holds when it stops), or within a second of this process
dying without stopping it. The process is supervised by
`turnout_e2b_server.supervisor.ServerProcess`, of the turnout-e2b-server distribution that
the `local-server` extra of turnout-e2b installs: without it, the embedded default says
what to install (or to set E2B_API_KEY) instead of failing on an import.

It always runs with a random API key, handed over on the server's standard input: never on
a command line, in an environment variable or in a file, so code running in a sandbox, or
anywhere else on the machine, has no way to read it and drive the server (list or kill
other sandboxes, change its settings). The key lives in this process's memory only;
`shared_server` returns it with the URL.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from turnout.errors import ConfigurationError, InfrastructureError

if TYPE_CHECKING:
    from turnout_e2b_server.supervisor import ServerProcess

__all__ = [
    "NOT_INSTALLED",
    "EmbeddedServer",
    "embedded_confinement",
    "shared_server",
    "stop_shared_server",
]

NOT_INSTALLED = (
    "the local E2B-compatible server is not installed: install turnout-e2b[local-server] "
    "or set E2B_API_KEY"
)
# How long a fresh server may take to pre-start its kernels before executions are sent.
KERNELS_READY_S = 30.0
_lock = threading.Lock()
_server_process: ServerProcess | None = None
_server: EmbeddedServer | None = None


@dataclass(frozen=True)
class EmbeddedServer:
    """Where the embedded server listens, and the key it accepts (and nothing else)."""

    url: str
    api_key: str = field(repr=False)


def embedded_confinement() -> bool:
    """Whether the embedded server's sandboxes will be confined (their own namespaces and
    network, an unprivileged user): the e2b backend's capabilities say so before the server
    runs, and the server is then started so that it must hold to it. False where the
    server is not installed (no sandbox of it will run)."""
    try:
        from turnout_e2b_server.isolation import unavailable_reason
    except ImportError:
        return False
    return unavailable_reason() is None


async def shared_server(*, create_delay_ms: int = 0) -> EmbeddedServer:
    """This process's embedded server (its URL and key), starting it if needed."""
    return await asyncio.to_thread(_start, create_delay_ms)


def _start(create_delay_ms: int) -> EmbeddedServer:
    global _server_process, _server
    try:
        from turnout_e2b_server.supervisor import ServerProcess, ServerStartError
    except ImportError as exc:
        raise ConfigurationError(NOT_INSTALLED) from exc
    with _lock:
        if _server_process is not None and _server_process.running() and _server is not None:
            return _server
        # Where the e2b backend declares confined sandboxes (see embedded_confinement), a
        # server that cannot confine them anyway refuses to start instead of running them
        # unconfined.
        required = ("--require-isolation",) if embedded_confinement() else ()
        process = ServerProcess(
            *required, "--create-delay-ms", str(create_delay_ms), wait_for_pool=False
        )
        try:
            process.start()
        except (OSError, ServerStartError) as exc:  # the host could not run it
            raise InfrastructureError(
                f"embedded server: {exc}", retryable=False, backend="e2b"
            ) from exc
        _server_process, _server = process, EmbeddedServer(process.url, process.api_key)
        atexit.register(stop_shared_server)
        _wait_for_kernels(process)
        return _server


def _wait_for_kernels(process: ServerProcess) -> None:
    """Wait, at most KERNELS_READY_S, until the fresh server has pre-started its kernels.

    The server listens before its kernel pools are full, and boots them (four kernels per
    language, about half a second of CPU each) in the background. Executions sent meanwhile
    share the CPU with those boots: on a two-core machine a cell then takes several times
    its usual time, enough for a sub-second timeout to expire on `return 1`. Returns in any
    case: a server whose pools cannot fill (a language unavailable here), or whose admin
    API does not answer, still serves.
    """
    import httpx

    with contextlib.suppress(httpx.HTTPError, TimeoutError, KeyError, TypeError, ValueError):
        process.wait_for_pool(KERNELS_READY_S)


def stop_shared_server() -> None:
    """Stop the embedded server (it kills its sandboxes); safe to call twice."""
    global _server_process, _server
    with _lock:
        process, _server_process, _server = _server_process, None, None
    if process is not None:
        process.stop(timeout_s=10, check=False)
