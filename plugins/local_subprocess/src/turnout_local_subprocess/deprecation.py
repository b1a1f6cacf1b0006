"""The legacy policy: where the local backend may load, and how loudly it says it is old.

The backend runs user code as a plain child process on the worker itself, so it exists
only to keep environments running until they move to a sandboxing backend. Each load
warns twice on purpose: a Python warning for developers and tests, a structured log
event for operators who only read logs.
"""

from __future__ import annotations

import warnings

import structlog

from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError
from turnout_local_subprocess.options import BACKEND_ID

__all__ = ["LegacyBackendDeprecationWarning", "announce_legacy_load", "refuse_if_disallowed"]

logger = structlog.get_logger("turnout.local_subprocess")


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


def announce_legacy_load(settings: BackendSettings, memory_enforcement: str) -> None:
    """Warn that the deprecated backend is in use, as a Python warning and a log event."""
    warnings.warn(
        LegacyBackendDeprecationWarning(
            f"the {BACKEND_ID} backend is deprecated: it runs code nodes as local child "
            f"processes with process-level isolation only (environment "
            f"{settings.environment!r}); move this environment to a sandboxing backend "
            "such as e2b"
        ),
        stacklevel=3,
    )
    logger.warning(
        "legacy_backend_loaded",
        backend=BACKEND_ID,
        environment=settings.environment,
        isolation="process",
        memory_enforcement=memory_enforcement,
    )
