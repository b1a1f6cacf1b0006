"""turnout-local-subprocess: the deprecated backend that runs code nodes as child processes."""

from turnout_local_subprocess.backend import LocalSubprocessBackend
from turnout_local_subprocess.deprecation import LegacyBackendDeprecationWarning
from turnout_local_subprocess.options import LocalSubprocessOptions

__all__ = ["LegacyBackendDeprecationWarning", "LocalSubprocessBackend", "LocalSubprocessOptions"]
