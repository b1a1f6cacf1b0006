"""`turnout e2b serve` and `turnout e2b reap`, added to the CLI by this plugin."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from typing import Any

from turnout.errors import ConfigurationError, TurnoutError
from turnout.flags import current_environment, load_flags
from turnout_e2b.connection import resolve_connection
from turnout_e2b.options import BACKEND_ID, parse_options

__all__ = ["parse_duration", "register"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `2h`, `1d` -> seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 15m, 2h, 1d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


def register(subparsers: Any) -> None:
    group = subparsers.add_parser("e2b", help="E2B backend tools: local server, reaper")
    commands = group.add_subparsers(dest="e2b_command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the local E2B-compatible server (127.0.0.1 by default)",
        description="Run the local E2B-compatible server. Arguments after `serve` are the "
        "server's own; see `turnout e2b serve --help`.",
        add_help=False,
    )
    serve.add_argument("server_arguments", nargs=argparse.REMAINDER)
    serve.set_defaults(handler=_serve)
    reap = commands.add_parser(
        "reap",
        help="kill leaked turnout sandboxes",
        description="Find sandboxes tagged by turnout (metadata turnout=1) that are older "
        "than --older-than, and kill them (or only list them with --dry-run).",
    )
    reap.add_argument(
        "--older-than",
        type=parse_duration,
        default=parse_duration("15m"),
        help="minimum age, e.g. 90s, 15m, 2h (default 15m)",
    )
    reap.add_argument("--dry-run", action="store_true", help="list, do not kill")
    reap.add_argument("--env", help="environment whose e2b options apply")
    reap.add_argument("--json", action="store_true", help="print one JSON object")
    reap.set_defaults(handler=_reap)


def _serve(arguments: argparse.Namespace) -> int:
    from turnout_e2b.server.cli import main as serve

    return serve(arguments.server_arguments)


def _reap(arguments: argparse.Namespace) -> int:
    import json

    from turnout_e2b.reaper import reap

    environment = current_environment(arguments.env)
    try:
        flags = load_flags().environment(environment)
        options = parse_options(flags.options_for(BACKEND_ID))
        connection = resolve_connection(options, environment)
        if connection.embedded:
            raise ConfigurationError(
                "nothing to reap: without E2B_API_KEY or api_url this environment uses a "
                "per-process embedded server, whose sandboxes die with it"
            )
        reaped = asyncio.run(
            reap(connection, older_than_s=arguments.older_than, dry_run=arguments.dry_run)
        )
    except TurnoutError as error:
        sys.stderr.write(f"error: {error.message}\n")
        return 1
    if arguments.json:
        sys.stdout.write(
            json.dumps(
                {
                    "endpoint": connection.label,
                    "dryRun": arguments.dry_run,
                    "sandboxes": [r.to_dict() for r in reaped],
                }
            )
            + "\n"
        )
        return 0
    verb = "would kill" if arguments.dry_run else "killed"
    for item in reaped:
        sys.stdout.write(
            f"{item.sandbox_id}  age {item.age_s:.0f}s  "
            f"{verb if arguments.dry_run or item.killed else 'already gone'}\n"
        )
    sys.stdout.write(f"{len(reaped)} leaked sandbox(es) at {connection.label}\n")
    return 0
