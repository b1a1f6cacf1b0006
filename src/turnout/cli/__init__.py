"""`turnout`: the command line. Each subcommand lives in its own module.

Exit codes are part of the interface: 0 success; 1 the code or the infrastructure failed
(or the deployment is misconfigured); 2 the input was invalid (bad config, context or
arguments). The `turnout` program is `entry_point`, which ends the process as
turnout.cli.process explains; `main` is the same command for callers in-process (tests).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from turnout.cli.output import escape_unencodable_output
from turnout.cli.process import run_as_process

__all__ = ["entry_point", "main"]

#: The built-in commands, each in the module of the same name, in `--help` order.
_COMMANDS: tuple[str, ...] = ("run", "backends", "flags", "rollout", "conformance", "replay")
_COMMANDS += ("audit", "chaos", "bench")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `turnout` parser: every command, or only the built-in command `only` (a command
    pays for its own imports only: `turnout run` does not load the audit's parsers)."""
    parser = argparse.ArgumentParser(
        prog="turnout",
        description="Run workflow code nodes on pluggable, feature-flagged backends.",
    )
    if only is None:  # `turnout --version` names no command; a command's run skips the lookup
        parser.add_argument("--version", action="version", version=f"turnout {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (only,) if only else _COMMANDS:
        importlib.import_module(f"turnout.cli.{name}").register(subparsers)
    if only is None:
        from turnout.registry import default_registry

        manager = default_registry().plugin_manager
        if manager is not None:
            manager.hook.turnout_add_commands(subparsers=subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("turnout")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree, not installed
        return "(not installed)"


def _builtin_command(argv: Sequence[str]) -> str | None:
    """The built-in command `argv` starts with, if it starts with one."""
    return argv[0] if argv and argv[0] in _COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    escape_unencodable_output()
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_builtin_command(words))
    arguments = parser.parse_args(words)
    status: int = arguments.handler(arguments)
    return status


def entry_point() -> NoReturn:
    """The `turnout` program: `main` with the command line, then a clean process exit."""
    run_as_process(main)


if __name__ == "__main__":  # pragma: no cover - `python -m turnout.cli`
    entry_point()
