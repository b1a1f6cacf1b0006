"""Adds `turnout bench` and `turnout chaos` to the CLI.

Every `turnout` command loads this module, so it imports nothing of the bench or chaos:
only a command's parser is built here, its work imported when it runs.
"""

from __future__ import annotations

from typing import Any

from turnout.hookspecs import hookimpl

__all__ = ["turnout_add_commands"]


@hookimpl
def turnout_add_commands(subparsers: Any) -> None:
    from turnout_devtools.cli import bench, chaos

    chaos.register(subparsers)
    bench.register(subparsers)
