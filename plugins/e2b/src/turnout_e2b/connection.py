"""Where the e2b backend sends its calls: the E2B cloud, a configured server, or an
embedded local E2B-compatible server.

Resolution, first match wins:
1. `E2B_API_KEY` set: the cloud (or `api_url`/`sandbox_url`/`domain` when configured).
2. `api_url` configured (flag file or `E2B_API_URL`): that server, with a placeholder key
   (the local server needs a non-empty one; it is not a secret).
3. `development` or `test` environment and `embedded_server` is not "never": start the local
   E2B-compatible server in a child process on 127.0.0.1, with a random API key only this
   process knows (see `turnout_e2b.embedded`), and log one line saying so.
4. Otherwise: `ConfigurationError` naming the variable to set.

Labels (shown in reports, logs and `turnout backends`) never repeat credentials written into
a URL: its userinfo and query values are redacted. Library loggers (httpx, the SDK) get the
same redaction once a connection is resolved (`turnout.logging.install_stdlib_redaction`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from turnout.errors import ConfigurationError
from turnout.logging import get_logger, install_stdlib_redaction
from turnout.redaction import redact_url
from turnout_e2b.options import E2BOptions

__all__ = ["EMBEDDED_ENVIRONMENTS", "Connection", "is_loopback", "resolve_connection"]

EMBEDDED_ENVIRONMENTS = frozenset({"development", "test"})
LOCAL_SERVER_KEY = "turnout-local-server"
log = get_logger("turnout.e2b")


@dataclass
class Connection:
    """SDK connection parameters plus a human label of the endpoint (for reports)."""

    label: str
    api_key: str | None
    api_url: str | None = None
    sandbox_url: str | None = None
    domain: str | None = None
    embedded: bool = False
    embedded_options: dict[str, Any] = field(default_factory=dict)

    def sdk_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"api_key": self.api_key}
        for name in ("api_url", "sandbox_url", "domain"):
            value = getattr(self, name)
            if value:
                params[name] = value
        return params

    async def ensure_started(self) -> Connection:
        """Start the embedded server if this connection needs one (once per process)."""
        if not self.embedded:
            return self
        from turnout_e2b.embedded import shared_server

        server = await shared_server(**self.embedded_options)
        log.info(
            "e2b_embedded_server_started",
            url=server.url,
            reason="no E2B_API_KEY in a development/test environment",
        )
        _exempt_loopback_from_proxies()
        return Connection(
            label=f"local E2B-compatible server at {server.url}",
            api_key=server.api_key,
            api_url=server.url,
            sandbox_url=server.url,
        )


def resolve_connection(
    options: E2BOptions, environment: str, *, dry_run: bool = False
) -> Connection:
    """Decide the endpoint; with `dry_run`, only check that one can be decided."""
    install_stdlib_redaction()
    api_key = os.environ.get("E2B_API_KEY") or None
    api_url, sandbox_url = options.api_url_or_env, options.sandbox_url_or_env
    if api_key and options.embedded_server != "always":
        label = f"E2B at {redact_url(api_url)}" if api_url else "E2B cloud"
        if api_url and is_loopback(api_url):  # the local server, which has a key of its own
            _exempt_loopback_from_proxies()
            label = f"E2B-compatible server at {redact_url(api_url)}"
            sandbox_url = sandbox_url or api_url
        return Connection(
            label=label,
            api_key=api_key,
            api_url=api_url,
            sandbox_url=sandbox_url,
            domain=options.domain_or_env,
        )
    if api_url and options.embedded_server != "always":
        if is_loopback(api_url):
            _exempt_loopback_from_proxies()
        return Connection(
            label=f"E2B-compatible server at {redact_url(api_url)}",
            api_key=LOCAL_SERVER_KEY,
            api_url=api_url,
            sandbox_url=sandbox_url or api_url,
        )
    if options.embedded_server == "always" or (
        options.embedded_server == "auto" and environment in EMBEDDED_ENVIRONMENTS
    ):
        return Connection(
            label="local E2B-compatible server (embedded, not started yet)",
            api_key=None,
            embedded=True,
            embedded_options={"create_delay_ms": options.embedded_create_delay_ms},
        )
    raise ConfigurationError(
        f"the e2b backend has no API key in environment {environment!r}: set E2B_API_KEY on "
        "the workers that run executions (see docs/deployment.md), or set api_url to an "
        "E2B-compatible server"
    )


def is_loopback(url: str) -> bool:
    """Whether `url` names this machine (127.0.0.0/8, localhost, ::1)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host.startswith("127.") or host in ("localhost", "::1")


def _exempt_loopback_from_proxies() -> None:
    """A host-wide HTTP(S)_PROXY must not capture loopback calls to a local server."""
    for name in ("NO_PROXY", "no_proxy"):
        entries = [e for e in os.environ.get(name, "").split(",") if e]
        for host in ("127.0.0.1", "localhost"):
            if host not in entries:
                entries.append(host)
        os.environ[name] = ",".join(entries)
