"""Entry point `local-subprocess` of the `turnout` group: registers the legacy backend.

Registration never constructs the backend, so listing backends works everywhere; the
class itself refuses to construct where `legacy_allowed` is false. It does not import the
backend either: discovery registers a `LazyBackend`, and `turnout_local_subprocess.backend`
is imported when the backend is first built, so a process on another backend never loads it.
"""

from __future__ import annotations

from turnout.hookspecs import hookimpl
from turnout.registry import BackendRegistry, LazyBackend

__all__ = ["BACKEND", "turnout_register_backends"]

BACKEND = LazyBackend(
    "local-subprocess",
    "turnout_local_subprocess.backend:LocalSubprocessBackend",
    description=(
        "DEPRECATED: runs code nodes as local child processes (process isolation only, "
        "network not cut); kept for environments not yet moved to a sandboxing backend"
    ),
    deprecated=True,
    options="turnout_local_subprocess.options:LocalSubprocessOptions",
)
"""`turnout_local_subprocess.backend.LocalSubprocessBackend` as discovery registers it
(loading checks they agree)."""


@hookimpl
def turnout_register_backends(registry: BackendRegistry) -> None:
    registry.add(BACKEND)
