"""Adds `turnout worker` to the CLI. Importing this module does not import the Temporal SDK."""

from __future__ import annotations

from typing import Any

from turnout.hookspecs import hookimpl

__all__ = ["turnout_add_commands"]


@hookimpl
def turnout_add_commands(subparsers: Any) -> None:
    from turnout_temporal.commands import register

    register(subparsers)
