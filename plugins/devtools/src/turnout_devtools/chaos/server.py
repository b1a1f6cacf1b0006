"""The local E2B-compatible server a chaos run talks to.

The server is supervised by `turnout_e2b_server.supervisor.ServerProcess` (a child process
on a free loopback port, with a random API key handed over on its standard input, so code
in its sandboxes cannot drive it). The run talks to its admin API (faults, config, stats)
with the supervisor's async calls, so that queueing a fault or polling the live sandboxes
never blocks the executions, and `stop` reports what the server left behind (a bad exit
status, a kernel process still alive, its temp root) as problems of the server itself.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from turnout.errors import ConfigurationError, InfrastructureError

if TYPE_CHECKING:
    from turnout_e2b_server.supervisor import ServerProcess

__all__ = ["new_server", "start", "stop"]

MISSING = (
    "turnout chaos needs the e2b plugin and its local server: install turnout-e2b[local-server]"
)


def new_server(*args: str) -> ServerProcess:
    """A supervisor of the server with options `args`, not started yet."""
    if importlib.util.find_spec("turnout_e2b") is None:
        raise ConfigurationError(MISSING)
    try:
        from turnout_e2b_server.supervisor import ServerProcess
    except ImportError as exc:
        raise ConfigurationError(MISSING) from exc
    return ServerProcess(*args, wait_for_pool=False)


async def start(server: ServerProcess) -> None:
    """Start the server; InfrastructureError if it does not come up."""
    from turnout_e2b_server.supervisor import ServerStartError

    try:
        await server.astart()
    except (OSError, ServerStartError) as exc:
        raise InfrastructureError(str(exc), retryable=False) from exc


async def stop(server: ServerProcess) -> list[str]:
    """Stop the server; what it left behind (empty: nothing)."""
    from turnout_e2b_server.supervisor import ServerLeakError

    try:
        await server.astop()
    except ServerLeakError as exc:
        return exc.problems
    return []
