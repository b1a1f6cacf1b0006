"""Where a `Client`'s feature flags come from: data, a file, or the process's defaults.

`Client(flags=...)` takes:

- a mapping: the flags as data, validated by the file's schema with the file's messages,
  located as `<flags>: environments.production.stage: ...` (no file on disk needed);
- a path (`str` or `os.PathLike`): that file, hot-reloaded while the client lives;
- a `FlagFile`: used as it is (already validated);
- `None`: `$TURNOUT_FLAGS_FILE`, else `./feature_flags.toml` (hot-reloaded), else a
  `ConfigurationError` naming the three ways to give flags.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from turnout.errors import ConfigurationError
from turnout.flags import (
    DEFAULT_CHECK_INTERVAL,
    DEFAULT_FLAGS_FILE,
    FLAGS_FILE_VARIABLE,
    FlagFile,
    FlagReloader,
    OptionModels,
    flags_from_mapping,
)

__all__ = ["FlagsArgument", "flag_source"]

FlagsArgument = Mapping[str, Any] | str | os.PathLike[str] | FlagFile | None
"""What `Client(flags=...)` accepts."""


def flag_source(
    flags: FlagsArgument,
    *,
    known_backends: Collection[str],
    option_models: OptionModels | None = None,
    check_interval: float = DEFAULT_CHECK_INTERVAL,
) -> FlagFile | FlagReloader:
    """The fixed flags or the reloader a client's engine reads (see the module docstring).

    `option_models` (`BackendRegistry.option_models`) checks each backend's options table
    whenever the flags load, at first and on every reload. Raises `ConfigurationError` (a
    `FlagFileError` listing every problem for bad flags).
    """
    if isinstance(flags, FlagFile):
        return flags
    if isinstance(flags, Mapping):
        return flags_from_mapping(flags, known_backends=known_backends, option_models=option_models)
    if isinstance(flags, str | os.PathLike):
        return FlagReloader(
            Path(flags),
            check_interval=check_interval,
            known_backends=known_backends,
            option_models=option_models,
        )
    if flags is not None:
        raise ConfigurationError(
            f"flags must be a mapping, a path or a FlagFile, not {type(flags).__name__}; "
            "pass Client(flags={'schema_version': 1, 'environments': {...}}) or a file's path"
        )
    return FlagReloader(
        _default_path(),
        check_interval=check_interval,
        known_backends=known_backends,
        option_models=option_models,
    )


def _default_path() -> Path:
    """`$TURNOUT_FLAGS_FILE`, else `./feature_flags.toml`; an error naming all three ways
    when neither gives a file."""
    variable = os.environ.get(FLAGS_FILE_VARIABLE)
    if variable:
        path = Path(variable)
        if not path.is_file():
            raise ConfigurationError(
                f"{FLAGS_FILE_VARIABLE} names {variable!r}, which is not a file; fix the "
                f"variable, unset it to use ./{DEFAULT_FLAGS_FILE}, or pass Client(flags=...) "
                "(a mapping or a path)"
            )
        return path
    path = Path(DEFAULT_FLAGS_FILE)
    if not path.is_file():
        raise ConfigurationError(
            "no feature flags given: pass Client(flags=...) (a mapping of the flags, or a "
            f"file's path), or set {FLAGS_FILE_VARIABLE} to a flag file, or put "
            f"{DEFAULT_FLAGS_FILE} in the current directory ({Path.cwd()})"
        )
    return path
