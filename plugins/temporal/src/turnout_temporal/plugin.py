"""Adds `turnout worker` to the CLI.

Importing this module imports nothing of the Temporal SDK: every `turnout` command loads
it, and only the worker needs it.
"""

from __future__ import annotations

from typing import Any

from turnout.hookspecs import hookimpl

__all__ = ["turnout_add_commands"]


@hookimpl
def turnout_add_commands(subparsers: Any) -> None:
    from turnout_temporal.commands import register

    register(subparsers)
