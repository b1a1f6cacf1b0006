"""`turnout`: the command line. Each subcommand lives in its own module.

Exit codes are part of the interface: 0 success; 1 the code or the infrastructure failed
(or the deployment is misconfigured); 2 the input was invalid (bad config, context or
arguments). The `turnout` program is `entry_point`, which ends the process as
turnout.cli.process explains; `main` is the same command for callers in-process (tests).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from turnout.cli import audit, backends, bench, chaos, conformance, flags, replay, rollout, run
from turnout.cli.output import escape_unencodable_output
from turnout.cli.process import run_as_process
from turnout.registry import default_registry

__all__ = ["entry_point", "main"]

_COMMANDS = (run, backends, flags, rollout, conformance, replay, audit, chaos, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="turnout",
        description="Run workflow code nodes on pluggable, feature-flagged backends.",
    )
    parser.add_argument("--version", action="version", version=f"turnout {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.register(subparsers)
    manager = default_registry().plugin_manager
    if manager is not None:
        manager.hook.turnout_add_commands(subparsers=subparsers)
    return parser


def _version() -> str:
    try:
        return version("turnout")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree, not installed
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    escape_unencodable_output()
    parser = build_parser()
    arguments = parser.parse_args(argv)
    status: int = arguments.handler(arguments)
    return status


def entry_point() -> NoReturn:
    """The `turnout` program: `main` with the command line, then a clean process exit."""
    run_as_process(main)


if __name__ == "__main__":  # pragma: no cover - `python -m turnout.cli`
    entry_point()
