"""Registers the e2b backend. Importing this module imports neither the E2B SDK nor the
backend: discovery registers a `LazyBackend`, and `turnout_e2b.backend` is imported when an
e2b backend is first built (its options model when a flag file has an e2b table)."""

from __future__ import annotations

from typing import Any

from turnout.hookspecs import hookimpl
from turnout.registry import BackendRegistry, LazyBackend

__all__ = ["BACKEND", "turnout_add_commands", "turnout_register_backends"]

BACKEND = LazyBackend(
    "e2b",
    "turnout_e2b.backend:E2BBackend",
    description=(
        "E2B sandboxes through the official SDK (Firecracker microVMs at E2B; kernels in "
        "namespaces at the local E2B-compatible server)"
    ),
    options="turnout_e2b.options:E2BOptions",
)
"""`turnout_e2b.backend.E2BBackend` as discovery registers it (loading checks they agree)."""


@hookimpl
def turnout_register_backends(registry: BackendRegistry) -> None:
    registry.add(BACKEND)


@hookimpl
def turnout_add_commands(subparsers: Any) -> None:
    from turnout_e2b.commands import register

    register(subparsers)
