"""The legacy policy: where the local backend may load, and how loudly it says it is old.

The backend runs user code as a plain child process on the worker itself, so it exists
only to keep environments running until they move to a sandboxing backend. Each load
warns twice on purpose: a Python warning for developers and tests, a structured log
event for operators who only read logs.

The Python warning is a DeprecationWarning, which the default filters show only when it
is attributed to `__main__`. It is therefore attributed to the first frame outside
turnout's own packages (what `skip_file_prefixes` does on Python 3.12+): the script, the
console script or the REPL that asked for the backend, where the default filters show it.
A fixed stacklevel pointed into turnout/registry.py, where they hide it.
"""

from __future__ import annotations

import sys
import warnings

from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError
from turnout.logging import get_logger
from turnout_local_subprocess.options import BACKEND_ID

__all__ = [
    "LegacyBackendDeprecationWarning",
    "announce_legacy_load",
    "caller_outside_turnout",
    "refuse_if_disallowed",
]

logger = get_logger("turnout.local_subprocess")

INTERNAL_PACKAGES = frozenset({"turnout", "turnout_local_subprocess"})


class LegacyBackendDeprecationWarning(DeprecationWarning):
    """Emitted whenever the deprecated local-subprocess backend is constructed."""


def refuse_if_disallowed(settings: BackendSettings) -> None:
    """Raise before anything is created when the flags forbid legacy backends here."""
    if settings.legacy_allowed:
        return
    raise ConfigurationError(
        f"the legacy {BACKEND_ID} backend is disabled for environment "
        f"{settings.environment!r} by feature_flags.toml (legacy_allowed = false for that "
        "environment); select another backend for it, such as e2b, or set "
        "legacy_allowed = true there if this environment must keep running code locally"
    )


def announce_legacy_load(
    settings: BackendSettings,
    *,
    memory_enforcement: str,
    process_isolation: str,
    code_user: str = "worker",
) -> None:
    """Warn that the deprecated backend is in use, as a Python warning and a log event."""
    warnings.warn(
        LegacyBackendDeprecationWarning(
            f"the {BACKEND_ID} backend is deprecated: it runs code nodes as local child "
            f"processes with process-level isolation only (environment "
            f"{settings.environment!r}); move this environment to a sandboxing backend "
            "such as e2b"
        ),
        stacklevel=caller_outside_turnout(),
    )
    logger.warning(
        "legacy_backend_loaded",
        backend=BACKEND_ID,
        environment=settings.environment,
        isolation="process",
        process_isolation=process_isolation,
        memory_enforcement=memory_enforcement,
        code_user=code_user,
    )


def caller_outside_turnout() -> int:
    """The `stacklevel`, for a warn() in the calling function, of the first outside frame.

    Frames of modules in turnout's own packages (`turnout`, `turnout_local_subprocess`)
    are skipped. When every frame is inside (turnout's own entry points run as modules
    of their package), the outermost frame is used.
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and _internal(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    return level


def _internal(module: str) -> bool:
    return module.partition(".")[0] in INTERNAL_PACKAGES
