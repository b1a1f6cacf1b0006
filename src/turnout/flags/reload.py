"""Hot reload: pick up an edited flag file without restarting, and survive a broken edit.

`FlagReloader.current()` is called on every execution, so it reads nothing most of the
time: at most once per `check_interval` seconds it `stat`s the file, and only when the
file's identity (mtime, size, inode) changed does it read and validate it again. A valid
file replaces the configuration as a whole (`flags_reloaded`); an invalid or missing one
leaves the last good configuration in force and logs one `flags_reload_failed` error per
change, never raising. Rolling back is therefore one edit, and a typo in that edit cannot
take the service down.

`on_change` lets the owner of the configuration take part: it is called with a valid new
configuration before it applies (the engine rebuilds the backends whose options changed),
and raising a `TurnoutError` refuses the reload like an invalid file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

from turnout.errors import TurnoutError
from turnout.flags.loading import load_flags, locate_flags_file
from turnout.flags.options import OptionModels
from turnout.flags.schema import FlagFile
from turnout.log_events import FlagsReloaded
from turnout.logging import get_logger

__all__ = ["DEFAULT_CHECK_INTERVAL", "FlagReloader"]

DEFAULT_CHECK_INTERVAL = 2.0
"""Seconds between two looks at the file: how long an edit takes to apply, at most."""

log = get_logger("turnout.flags")

_Signature = tuple[int, int, int] | None


def _signature(path: Path) -> _Signature:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)


class FlagReloader:
    """Holds the current `FlagFile` of one path and reloads it when the file changes.

    The first load happens in the constructor and raises `ConfigurationError`, so a process
    never starts on a broken file; later loads never raise. Thread-safe: one caller checks
    while the others keep using the configuration in force.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        known_backends: Collection[str] | None = None,
        option_models: OptionModels | None = None,
        on_change: Callable[[FlagFile], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = locate_flags_file(path)
        self._known = None if known_backends is None else frozenset(known_backends)
        # Kept as given, not copied: the registry's looks a model up (importing it) only
        # for a backend the file has a table for.
        self._option_models: OptionModels = {} if option_models is None else option_models
        self._on_change = on_change
        self._interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        # Stat before reading: an edit racing with the read is seen at the next check.
        self._signature = _signature(self._path)
        self._flags = self._load()
        self._next_check = clock() + check_interval

    @property
    def path(self) -> Path:
        """The file being watched."""
        return self._path

    def attach(self, on_change: Callable[[FlagFile], None]) -> None:
        """Make `on_change` the owner's part in every reload (see the module docstring): for
        an engine given a reloader that someone else made (`turnout.Client`). A reloader
        serves one owner; a second one is refused, since two owners could half-apply."""
        with self._lock:
            if self._on_change is not None and self._on_change != on_change:
                raise ValueError("this FlagReloader already applies its reloads elsewhere")
            self._on_change = on_change

    def current(self) -> FlagFile:
        """The configuration in force, after a cheap change check when one is due."""
        if self._clock() >= self._next_check and self._lock.acquire(blocking=False):
            try:
                self._check()
            finally:
                self._lock.release()
        return self._flags

    def check_now(self) -> bool:
        """Look at the file now (the CLI and tests); True when a new configuration applied."""
        with self._lock:
            return self._check()

    def _load(self) -> FlagFile:
        return load_flags(self._path, known_backends=self._known, option_models=self._option_models)

    def _check(self) -> bool:
        self._next_check = self._clock() + self._interval
        try:
            signature = _signature(self._path)
            if signature == self._signature:
                return False
            self._signature = signature
            if signature is None:
                raise TurnoutError(f"{self._path}: the flag file is gone")
            flags = self._load()
            if self._on_change is not None:
                self._on_change(flags)
        except Exception as exc:
            message = exc.message if isinstance(exc, TurnoutError) else repr(exc)
            with contextlib.suppress(Exception):
                log.error(
                    "flags_reload_failed",
                    path=str(self._path),
                    error=message,
                    action="kept the last good configuration",
                )
            return False
        self._flags = flags
        with contextlib.suppress(Exception):
            log.emit(
                FlagsReloaded(
                    path=str(self._path),
                    environments=sorted(flags.environments),
                    flags_hashes={
                        name: env.config_hash for name, env in flags.environments.items()
                    },
                )
            )
        return True
