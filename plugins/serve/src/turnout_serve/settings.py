"""What one `turnout serve` process is configured with, checked before it binds a port.

The checks that protect a deployment live here, where both the command and the tests
build settings: tokens come from `TURNOUT_SERVICE_TOKENS` (comma-separated) and/or a
token file (one a line), and a service without a token refuses every address but
loopback, so that an unauthenticated code-execution endpoint is never exposed by mistake.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from turnout.errors import ConfigurationError

__all__ = [
    "DEFAULT_BODY_TIMEOUT_S",
    "DEFAULT_GRACE_S",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_PROVISIONING_BUDGET_S",
    "TOKENS_VARIABLE",
    "ServiceSettings",
    "is_loopback",
    "load_tokens",
]

TOKENS_VARIABLE = "TURNOUT_SERVICE_TOKENS"
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
"""The largest request body read (a node and its context); larger ones get 413."""
DEFAULT_MAX_CONCURRENCY = 32
"""Executions one replica runs at once; the next request gets 429 with Retry-After."""
DEFAULT_BODY_TIMEOUT_S = 30.0
"""How long a request body may take to arrive; a slower one gets 408."""
DEFAULT_PROVISIONING_BUDGET_S = 60.0
"""Added to the node's own timeout for the request's deadline: creating a sandbox,
queueing for a warm one, and the kill afterwards."""
DEFAULT_GRACE_S = 30.0
"""On SIGTERM, how long executions in flight may finish before they are interrupted."""


@dataclass(frozen=True)
class ServiceSettings:
    """The options of `turnout serve` (see `turnout serve --help` and docs/service.md)."""

    host: str = "127.0.0.1"
    port: int = 8080
    flags_path: Path | None = None
    environment: str | None = None
    tokens: frozenset[str] = field(default_factory=frozenset, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    provisioning_budget_s: float = DEFAULT_PROVISIONING_BUDGET_S
    grace_s: float = DEFAULT_GRACE_S
    flag_check_interval_s: float | None = None
    """How often the flag file is checked for changes (None: the library's default)."""

    def __post_init__(self) -> None:
        if not self.tokens and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to serve on {self.host!r} without a token: anyone who reaches it "
                f"could run code; set {TOKENS_VARIABLE} or pass --token-file FILE, or bind "
                "127.0.0.1"
            )

    @property
    def auth_required(self) -> bool:
        return bool(self.tokens)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address or `localhost` (nothing else can reach it)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_tokens(
    token_file: Path | None, environ: Mapping[str, str] | None = None
) -> frozenset[str]:
    """The accepted bearer tokens: `TURNOUT_SERVICE_TOKENS` (comma-separated) and the lines
    of `token_file` (blank lines and `#` comments skipped). A token with whitespace inside,
    or a file that cannot be read, is a `ConfigurationError`."""
    environ = os.environ if environ is None else environ
    found = [part.strip() for part in environ.get(TOKENS_VARIABLE, "").split(",")]
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"--token-file {str(token_file)!r}: {exc}") from None
        found += [line.strip() for line in text.splitlines() if not line.startswith("#")]
    tokens = frozenset(token for token in found if token)
    for token in tokens:
        if any(character.isspace() for character in token):
            raise ConfigurationError(
                "a service token contains whitespace; tokens are separated by commas in "
                f"{TOKENS_VARIABLE} and by lines in --token-file"
            )
    return tokens
