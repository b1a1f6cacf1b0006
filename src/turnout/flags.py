"""feature_flags.toml: which backend each environment uses, and whether legacy may load.

The file is validated strictly and all at once: an unknown key, a wrong type or a missing
environment is a `ConfigurationError` naming the file, the key path and, where it can be
found, the line. A half-valid file is never partly applied.

Where the file is: the path given explicitly, else `TURNOUT_FLAGS_FILE`, else
`feature_flags.toml` in the current directory. The environment is the process's:
`TURNOUT_ENV` (default `development`), never a request's.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from turnout.errors import ConfigurationError

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "FLAGS_FILE_VARIABLE",
    "EnvironmentFlags",
    "FlagFile",
    "current_environment",
    "load_flags",
    "locate_flags_file",
]

ENVIRONMENT_VARIABLE = "TURNOUT_ENV"
FLAGS_FILE_VARIABLE = "TURNOUT_FLAGS_FILE"
DEFAULT_ENVIRONMENT = "development"


class EnvironmentFlags(BaseModel):
    """One environment's settings."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    backend: str = Field(min_length=1, description="id of the backend executions use")
    legacy_allowed: bool = Field(
        default=True, description="false: deprecated backends refuse to load here"
    )
    backends: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-backend options, keyed by backend id"
    )

    def options_for(self, backend_id: str) -> dict[str, Any]:
        return dict(self.backends.get(backend_id, {}))


class FlagFile(BaseModel):
    """The whole file. `schema_version` lets a future format be refused clearly."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    schema_version: Literal[1]
    environments: dict[str, EnvironmentFlags]
    _source: str = PrivateAttr(default="<memory>")

    @property
    def source(self) -> str:
        """Where this configuration was read from, for error messages."""
        return self._source

    def environment(self, name: str) -> EnvironmentFlags:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments))
            raise ConfigurationError(
                f"{self.source}: no environment {name!r} (defined: {known}); add "
                f"[environments.{name}] or set {ENVIRONMENT_VARIABLE} to one of those"
            ) from None


def current_environment(explicit: str | None = None) -> str:
    return explicit or os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_ENVIRONMENT


def locate_flags_file(explicit: str | Path | None = None) -> Path:
    candidate = explicit or os.environ.get(FLAGS_FILE_VARIABLE) or "feature_flags.toml"
    path = Path(candidate)
    if not path.is_file():
        raise ConfigurationError(
            f"feature flag file {str(path)!r} not found; pass its path or set {FLAGS_FILE_VARIABLE}"
        )
    return path


def load_flags(path: str | Path | None = None) -> FlagFile:
    """Read and validate the flag file, all or nothing."""
    located = locate_flags_file(path)
    text = located.read_text(encoding="utf-8")
    return parse_flags(text, source=str(located))


def parse_flags(text: str, *, source: str = "<memory>") -> FlagFile:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from None
    try:
        flags = FlagFile.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = [_describe(error, text, source) for error in exc.errors()]
        raise ConfigurationError("; ".join(problems)) from None
    flags._source = source
    return flags


def _describe(error: Any, text: str, source: str) -> str:
    location = [str(part) for part in error.get("loc", ())]
    key_path = ".".join(location) or "<top level>"
    if error.get("type") == "extra_forbidden":
        problem = "unknown key"
    elif error.get("type") == "missing":
        problem = "is required"
    else:
        problem = str(error.get("msg", "is invalid"))
    line = _line_of(text, location, missing=error.get("type") == "missing")
    where = f"{source}:{line}" if line else source
    return f"{where}: {key_path}: {problem}"


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*(\"[^\"]*\"|[A-Za-z0-9_-]+)\s*=")


def _line_of(text: str, location: list[str], *, missing: bool) -> int | None:
    """Best-effort line of a key path (TOML parsers keep no positions).

    Tracks which table each line belongs to, so `environments.production.backend` is
    found in `[environments.production]`, not in another environment. A missing key
    points at the header of the table that lacks it.
    """
    if not location:
        return None
    wanted_table, wanted_key = location[:-1], location[-1]
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = [part.strip().strip('"') for part in header.group(1).split(".")]
            # A missing key points at its table's header; a table-valued key at its own.
            if (missing and table == wanted_table) or table == location:
                return number
            continue
        key = _KEY.match(line)
        if (
            not missing
            and key
            and table == wanted_table
            and (key.group(1).strip('"') == wanted_key)
        ):
            return number
    return None
