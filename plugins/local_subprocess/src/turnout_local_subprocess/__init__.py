"""turnout-local-subprocess: the deprecated backend that runs code nodes as child processes.

Exports are lazy (PEP 562): discovery imports `turnout_local_subprocess.plugin`, which must
not load the backend (see there).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turnout_local_subprocess.backend import LocalSubprocessBackend
    from turnout_local_subprocess.deprecation import LegacyBackendDeprecationWarning
    from turnout_local_subprocess.options import LocalSubprocessOptions

__all__ = ["LegacyBackendDeprecationWarning", "LocalSubprocessBackend", "LocalSubprocessOptions"]

_HOMES = {
    "LegacyBackendDeprecationWarning": "turnout_local_subprocess.deprecation",
    "LocalSubprocessBackend": "turnout_local_subprocess.backend",
    "LocalSubprocessOptions": "turnout_local_subprocess.options",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'turnout_local_subprocess' has no attribute {name!r}")
