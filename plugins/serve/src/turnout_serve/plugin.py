"""Adds `turnout serve` to the CLI. Importing this module imports neither FastAPI nor
uvicorn: every `turnout` command loads it, and only `turnout serve` needs them."""

from __future__ import annotations

from typing import Any

from turnout.hookspecs import hookimpl

__all__ = ["turnout_add_commands"]


@hookimpl
def turnout_add_commands(subparsers: Any) -> None:
    from turnout_serve.command import register

    register(subparsers)
