"""The local server's settings: fixed at start (constructor, CLI) or changed while it runs.

Why mutable: the admin endpoint lets a test turn latency and limits up and down between
cases without restarting the server (and its pre-started kernels). Everything a request
reads is read at request time, so a change applies to the next request.

The API key is the exception: it is fixed at start, never shown by the admin API and never
changed by it. Whoever holds the key could otherwise lock every other client out (turnout's
kills included) by setting another one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["DEFAULT_ENVD_VERSION", "ServerConfig"]

# The SDK refuses envd < 0.1.0, and picks features by version: >= 0.4.0 means "no default
# username on file calls", >= 0.5.7 allows octet-stream uploads (both are implemented).
DEFAULT_ENVD_VERSION = "0.6.4"


@dataclass
class ServerConfig:
    """Every setting of the local E2B-compatible server, with E2B-like defaults."""

    create_delay_ms: int = 0
    """Latency added to every sandbox create (E2B takes about 150 ms)."""
    kill_delay_ms: int = 0
    """Latency added to every DELETE of a sandbox, before it is killed."""
    max_sandboxes: int | None = None
    """Live sandboxes allowed at once; a create beyond it answers 429 (E2B base tier: 20)."""
    default_timeout_s: int = 300
    """Sandbox lifetime when the create call gives none (E2B: 5 minutes)."""
    max_timeout_s: int = 86_400
    """Longest lifetime a create or set_timeout may ask for."""
    keepalive_s: float = 5.0
    """Silence on an /execute stream after which a keepalive line is sent."""
    pool_sizes: dict[str, int] = field(default_factory=lambda: {"python": 4, "javascript": 4})
    """Pre-started kernels kept ready per kernel language.

    Every create takes one of each (E2B's sandboxes boot with both kernels running); a
    create that finds none waits for one to start (IPython: about 0.5 s, Node: 0.06 s).
    Four covers a burst of concurrent creates as large as the conformance suite's (two
    per CPU on a 2-CPU machine); ready kernels cost about 35 MB (python) and 15 MB (Node).
    """
    api_key: str | None = field(default=None, repr=False)
    """If set, the only accepted X-API-KEY; otherwise any non-empty key is accepted.

    Fixed at start (see the module docstring)."""
    envd_version: str = DEFAULT_ENVD_VERSION
    """envdVersion reported to the SDK."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of GET /_turnout/admin/config: every setting but the key."""
        settings = asdict(self)
        del settings["api_key"]
        return settings

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update (POST /_turnout/admin/config); raise ValueError if invalid."""
        if "api_key" in changes:
            raise ValueError("api_key is fixed when the server starts; it cannot be changed")
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        candidate = asdict(self)
        for name, value in changes.items():
            if name == "pool_sizes" and isinstance(value, dict):
                candidate["pool_sizes"] = {**candidate["pool_sizes"], **value}
            else:
                candidate[name] = value
        checked = ServerConfig(**candidate)
        checked.validate()
        for name in changes:
            setattr(self, name, getattr(checked, name))

    def validate(self) -> None:
        """Raise ValueError naming the first setting that is out of range or mistyped."""
        for name in ("create_delay_ms", "kill_delay_ms", "default_timeout_s", "max_timeout_s"):
            value = getattr(self, name)
            if not _is_int(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if self.max_sandboxes is not None and (
            not _is_int(self.max_sandboxes) or self.max_sandboxes < 0
        ):
            raise ValueError("max_sandboxes must be null or a non-negative integer")
        if isinstance(self.keepalive_s, bool) or not isinstance(self.keepalive_s, int | float):
            raise ValueError("keepalive_s must be a number")
        if self.keepalive_s <= 0:
            raise ValueError("keepalive_s must be positive")
        if not isinstance(self.pool_sizes, dict) or not all(
            isinstance(k, str) and _is_int(v) and v >= 0 for k, v in self.pool_sizes.items()
        ):
            raise ValueError("pool_sizes must map kernel languages to non-negative integers")
        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key):
            raise ValueError("api_key must be null or a non-empty string")
        if not isinstance(self.envd_version, str) or not self.envd_version:
            raise ValueError("envd_version must be a non-empty string")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
