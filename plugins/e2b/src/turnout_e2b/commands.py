"""`turnout e2b serve` and `turnout e2b reap`, added to the CLI by this plugin."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from typing import Any

from turnout.cli.arguments import add_flags_argument
from turnout.cli.output import print_error, print_json
from turnout.errors import TurnoutError
from turnout.flags import current_environment, load_flags
from turnout_e2b.connection import resolve_connection
from turnout_e2b.options import BACKEND_ID, parse_options
from turnout_e2b.serve_command import add_serve_command

__all__ = ["parse_duration", "register"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
NOTHING_TO_REAP = (
    "nothing to reap: without E2B_API_KEY or api_url this environment uses a per-process "
    "embedded server, whose sandboxes die with the process that started it"
)


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `2h`, `1d` -> seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 15m, 2h, 1d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


def register(subparsers: Any) -> None:
    """Add `e2b serve` and `e2b reap` to the `turnout` parser."""
    group = subparsers.add_parser(
        "e2b",
        help="E2B backend tools: local server, reaper",
        description="Tools of the e2b backend: the local E2B-compatible server and the "
        "reaper of leaked sandboxes.",
    )
    commands = group.add_subparsers(dest="e2b_command", required=True, metavar="COMMAND")
    add_serve_command(commands)
    reap = commands.add_parser(
        "reap",
        help="kill leaked turnout sandboxes",
        description="Find sandboxes tagged by turnout (metadata turnout=1) that are older "
        "than --older-than, and kill them (or only list them with --dry-run). Exit 0 when "
        "the sweep was made (also when there was nothing to reap), 1 when it could not be.",
    )
    reap.add_argument(
        "--older-than",
        type=parse_duration,
        metavar="AGE",
        default=parse_duration("15m"),
        help="minimum age, e.g. 90s, 15m, 2h (default 15m)",
    )
    reap.add_argument("--dry-run", action="store_true", help="list, do not kill")
    reap.add_argument("--env", help="environment whose e2b options apply")
    add_flags_argument(reap)
    reap.add_argument("--json", action="store_true", help="print one JSON object")
    reap.set_defaults(handler=_reap)


def _reap(arguments: argparse.Namespace) -> int:
    from turnout_e2b.reaper import reap

    environment = current_environment(arguments.env)
    try:
        flags = load_flags(arguments.flags).environment(environment)
        options = parse_options(flags.options_for(BACKEND_ID))
        connection = resolve_connection(options, environment)
        if connection.embedded:
            return _report(arguments, connection.label, [], note=NOTHING_TO_REAP)
        reaped = asyncio.run(
            reap(connection, older_than_s=arguments.older_than, dry_run=arguments.dry_run)
        )
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    return _report(arguments, connection.label, [r.to_dict() for r in reaped])


def _report(
    arguments: argparse.Namespace,
    endpoint: str,
    sandboxes: list[dict[str, Any]],
    *,
    note: str | None = None,
) -> int:
    """Print what the sweep found (exit 0: a sweep with nothing to kill is a success)."""
    if arguments.json:
        result: dict[str, Any] = {
            "endpoint": endpoint,
            "dryRun": arguments.dry_run,
            "sandboxes": sandboxes,
        }
        if note is not None:
            result["note"] = note
        print_json(result)
        return 0
    if note is not None:
        sys.stdout.write(f"{note}\n")
        return 0
    verb = "would kill" if arguments.dry_run else "killed"
    for item in sandboxes:
        done = verb if arguments.dry_run or item["killed"] else "already gone"
        sys.stdout.write(f"{item['sandboxId']}  age {item['ageSeconds']:.0f}s  {done}\n")
    sys.stdout.write(f"{len(sandboxes)} leaked sandbox(es) at {endpoint}\n")
    return 0
