"""Entry point `local-subprocess` of the `turnout` group: registers the legacy backend.

Registration never constructs the backend, so listing backends works everywhere; the
class itself refuses to construct where `legacy_allowed` is false.
"""

from __future__ import annotations

from turnout.hookspecs import hookimpl
from turnout.registry import BackendRegistry
from turnout_local_subprocess.backend import LocalSubprocessBackend

__all__ = ["turnout_register_backends"]


@hookimpl
def turnout_register_backends(registry: BackendRegistry) -> None:
    registry.add(LocalSubprocessBackend)
