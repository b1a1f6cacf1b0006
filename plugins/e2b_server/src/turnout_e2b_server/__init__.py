"""A local E2B-compatible server for development and CI (the turnout-e2b-server
distribution; turnout-e2b installs it with its `local-server` extra).

It answers the unmodified `e2b` / `e2b-code-interpreter` SDK on one port: the control
plane (create, connect, list, info, set_timeout, kill), the code interpreter (/execute
streaming NDJSON, /contexts) backed by real IPython kernels (and a Node.js kernel), and
envd's /health and /files. Latency, limits and scripted faults are configurable at start
and through an admin API, so the plugin's failure handling can be tested for real.

    from turnout_e2b_server import LocalE2BServer, ServerConfig

    with LocalE2BServer(ServerConfig(max_sandboxes=20)) as server:
        ...  # AsyncSandbox.create(api_key="any", api_url=server.url, sandbox_url=server.url)

`python -m turnout_e2b_server` runs it from the command line; `turnout_e2b_server.supervisor`
runs it as a child process (start, admin calls, stop with a leak check), and
`turnout_e2b_server.testing` has a pytest fixture of it. It imports nothing of turnout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turnout_e2b_server.config import ServerConfig
    from turnout_e2b_server.runner import LocalE2BServer

__all__ = ["LocalE2BServer", "ServerConfig"]


def __getattr__(name: str) -> Any:
    """Import the server on first use, so that `turnout_e2b_server.cli` (the options of
    `turnout e2b serve`, read by every `turnout` command) stays cheap to import."""
    if name == "LocalE2BServer":
        from turnout_e2b_server.runner import LocalE2BServer

        return LocalE2BServer
    if name == "ServerConfig":
        from turnout_e2b_server.config import ServerConfig

        return ServerConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
