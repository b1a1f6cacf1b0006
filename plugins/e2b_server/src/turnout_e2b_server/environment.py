"""The environment a sandbox's kernels get: an allow-list, never the server's own.

Why: user code must not see the host's variables (API keys, tokens, proxies). A sandbox
gets PATH (so interpreters and tools resolve as on the host), LANG=C.UTF-8, TZ=UTC, HOME
pointing at its own directory, and the `envVars` of its create call, which win.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DEFAULT_PATH", "base_environment", "sandbox_environment"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def base_environment(home: Path) -> dict[str, str]:
    """The allow-listed variables, with HOME set to `home`."""
    return {
        "PATH": os.environ.get("PATH") or DEFAULT_PATH,
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "HOME": str(home),
    }


def sandbox_environment(home: Path, env_vars: Mapping[str, str]) -> dict[str, str]:
    """What a sandbox's kernels see: the allow-list plus the create call's `envVars`."""
    return {**base_environment(home), **env_vars}
