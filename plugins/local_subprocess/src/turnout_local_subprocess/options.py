"""The backend's own settings, from its table in feature_flags.toml, checked once at load.

Validated strictly (unknown keys and wrong types are refused) because a typo such as
`memroy_mb` would otherwise silently leave the default limit in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from turnout.backend import parse_backend_options
from turnout_local_subprocess.identity import DEFAULT_GID, DEFAULT_UID

__all__ = ["BACKEND_ID", "LocalSubprocessOptions", "parse_options"]

BACKEND_ID = "local-subprocess"
MIB = 1024 * 1024
UID_MAX = 2**32 - 2  # (uid_t) -1 means "unchanged" to the kernel


class LocalSubprocessOptions(BaseModel):
    """Limits and interpreters for local executions; every field has a safe default.

    `python` and `node` are interpreter names or paths (looked up on PATH when they are
    names); when unset, Python is the base interpreter turnout itself runs on and `node` is
    looked up on PATH, at the first execution that needs them. `use_cgroups` is "auto"
    (cgroups where the host allows them), true (refuse to load without them) or false
    (rlimits only). `isolate_processes` works the same way for the PID and mount namespace
    each program runs in (see `isolation`), and `drop_privileges` for running each program
    as the unprivileged `sandbox_uid` and `sandbox_gid` instead of the worker's user (see
    `identity`; it needs the namespace). `undumpable_worker` marks the worker process
    itself as not dumpable once, at construction. `prestart_python` is how many Python
    executions are kept prepared ahead, interpreter started, each waiting for one program
    (see `spare`); 0 turns it off.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    python: str | None = Field(default=None, min_length=1)
    node: str | None = Field(default=None, min_length=1)
    memory_mb: int = Field(default=512, ge=32, le=65_536)
    pids_max: int = Field(default=256, ge=16, le=65_536)
    output_cap_bytes: int = Field(default=MIB, ge=1024)
    max_result_bytes: int = Field(default=64 * MIB, ge=1)
    max_concurrency: int = Field(default=8, ge=1, le=1024)
    use_cgroups: Literal["auto"] | bool = "auto"
    isolate_processes: Literal["auto"] | bool = "auto"
    drop_privileges: Literal["auto"] | bool = "auto"
    sandbox_uid: int = Field(default=DEFAULT_UID, ge=1, le=UID_MAX)
    sandbox_gid: int = Field(default=DEFAULT_GID, ge=1, le=UID_MAX)
    undumpable_worker: bool = True
    prestart_python: int = Field(default=2, ge=0, le=64)


def parse_options(raw: Mapping[str, Any]) -> LocalSubprocessOptions:
    """Validate the options table, naming every offending option in one error."""
    return parse_backend_options(BACKEND_ID, LocalSubprocessOptions, raw)
