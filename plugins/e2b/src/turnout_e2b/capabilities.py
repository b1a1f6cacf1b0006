"""What an e2b backend instance declares it does, which depends on where its calls go:
E2B's microVMs, or the local E2B-compatible server's kernels on this host."""

from __future__ import annotations

from turnout.models import MAX_TIMEOUT_MS, Capabilities, Language
from turnout_e2b.connection import LOCAL_SERVER_KEY, Connection, is_loopback
from turnout_e2b.embedded import embedded_confinement
from turnout_e2b.options import E2BOptions
from turnout_e2b.packages import local_server_packages, template_packages

__all__ = ["capabilities_for"]


def capabilities_for(options: E2BOptions, connection: Connection) -> Capabilities:
    """The capabilities of an instance whose calls go to `connection` (see
    `E2BBackend.capabilities`)."""
    # A server on this machine is taken for the local one: E2B's own sandboxes are not
    # served from a loopback address.
    local_server = (
        connection.embedded
        or connection.api_key == LOCAL_SERVER_KEY
        or (connection.api_url is not None and is_loopback(connection.api_url))
    )
    # The local server's sandboxes are processes on this host's kernel, not microVMs. The
    # embedded one, confined where the host allows it (see embedded_confinement), gives each
    # a network of its own with only a loopback interface, so that they cannot reach the
    # server or each other, and runs it as an unprivileged user. Of a server started apart
    # (an `api_url`), this process cannot know how it was started: it is declared unconfined.
    confined = connection.embedded and embedded_confinement()
    return Capabilities(
        languages=frozenset({"python", "javascript"}),
        isolation="process" if local_server else "microvm",
        network_access=not confined if local_server else True,
        code_runs_as_worker_user=local_server and not confined,
        max_timeout_ms=MAX_TIMEOUT_MS,
        max_output_bytes=options.output_cap_bytes,
        max_result_bytes=options.max_result_bytes,
        memory_limit_mb=None,
        memory_enforcement="none" if local_server else "sandbox",
        host_environment_visible=False,
        supports_typescript=False,
        persistent_filesystem=False,
        packages=_importable_packages(options, embedded=connection.embedded),
    )


def _importable_packages(options: E2BOptions, *, embedded: bool) -> dict[Language, frozenset[str]]:
    """The template's packages as the options state them; the embedded local server's
    interpreters' own when that server is where executions will go."""
    if embedded:
        return local_server_packages()
    return template_packages(options.python_packages, options.javascript_packages)
