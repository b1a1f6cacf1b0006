"""Map the sandbox paths the SDK sends (`/home/user/...` or relative) to host paths.

Why: a local sandbox has no /home/user; its own directory under the server's temp root
stands in for it. Absolute paths must lie under /home/user; relative ones are relative to
it (envd resolves them against the user's home). Anything that would leave the sandbox
directory, by `..` or by a symlink, is refused with a 400, which the SDK raises as
InvalidArgumentException. Other absolute paths (/tmp, /etc) do not exist here and are
refused the same way.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from turnout_e2b_server.errors import ApiError

__all__ = ["SANDBOX_HOME", "host_path", "machine_path", "sandbox_path"]

SANDBOX_HOME = "/home/user"


def machine_path(raw: str) -> str:
    """`raw` as a normalised absolute path of the sandbox's machine (relative paths are
    relative to /home/user); ApiError(400) if it is empty or holds a NUL."""
    if not raw:
        raise ApiError(400, "path is required")
    if "\x00" in raw:
        raise ApiError(400, "path contains a NUL character")
    normalised = posixpath.normpath(posixpath.join(SANDBOX_HOME, raw))
    return "/" + normalised.lstrip("/")


def sandbox_path(raw: str) -> str:
    """The normalised absolute sandbox path for `raw`; ApiError(400) if outside the home."""
    if not raw:
        raise ApiError(400, "path is required")
    if "\x00" in raw:
        raise ApiError(400, "path contains a NUL character")
    absolute = raw if raw.startswith("/") else posixpath.join(SANDBOX_HOME, raw)
    normalised = posixpath.normpath(absolute)
    if normalised.startswith("//"):
        normalised = "/" + normalised.lstrip("/")
    if normalised != SANDBOX_HOME and not normalised.startswith(SANDBOX_HOME + "/"):
        raise ApiError(
            400, f"path {raw!r} is outside the sandbox home {SANDBOX_HOME} (local server)"
        )
    return normalised


def host_path(home: Path, raw: str) -> tuple[Path, str]:
    """The host path inside `home` for sandbox path `raw`, and the normalised sandbox path.

    Symlinks are resolved: a link pointing out of `home` is refused like `..` would be.
    """
    virtual = sandbox_path(raw)
    relative = virtual[len(SANDBOX_HOME) :].lstrip("/")
    candidate = home / relative if relative else home
    resolved = candidate.resolve()
    root = home.resolve()
    if resolved != root and root not in resolved.parents:
        raise ApiError(400, f"path {raw!r} leaves the sandbox directory")
    return resolved, virtual
