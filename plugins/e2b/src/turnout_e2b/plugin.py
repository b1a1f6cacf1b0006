"""Registers the e2b backend. Importing this module does not import the E2B SDK."""

from __future__ import annotations

from turnout.hookspecs import hookimpl
from turnout.registry import BackendRegistry
from turnout_e2b.backend import E2BBackend

__all__ = ["turnout_register_backends"]


@hookimpl
def turnout_register_backends(registry: BackendRegistry) -> None:
    registry.add(E2BBackend)
