"""Registers the e2b backend. Importing this module does not import the E2B SDK."""

from __future__ import annotations

from typing import Any

from turnout.hookspecs import hookimpl
from turnout.registry import BackendRegistry
from turnout_e2b.backend import E2BBackend

__all__ = ["turnout_add_commands", "turnout_register_backends"]


@hookimpl
def turnout_register_backends(registry: BackendRegistry) -> None:
    registry.add(E2BBackend)


@hookimpl
def turnout_add_commands(subparsers: Any) -> None:
    from turnout_e2b.commands import register

    register(subparsers)
