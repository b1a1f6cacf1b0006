"""`turnout backends`: what is registered, whether it can load here, and what it can do."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from turnout.cli.arguments import add_flags_argument
from turnout.cli.output import print_error, print_json
from turnout.engine import Engine
from turnout.errors import TurnoutError
from turnout.flags import current_environment
from turnout.logging import configure_logging

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backends",
        help="list registered backends and their capabilities",
        description="List every registered backend, its plugin, deprecation status, whether "
        "it can load in the environment, and its declared capabilities.",
    )
    parser.add_argument("--env", help="environment (default: $TURNOUT_ENV or development)")
    add_flags_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    environment = current_environment(arguments.env)
    configure_logging(environment)
    try:
        engine = Engine(environment, flags_path=arguments.flags)
        descriptions = engine.describe_backends()
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    if arguments.json:
        print_json(
            {
                "environment": environment,
                "default": engine.environment_flags.backend,
                "backends": [d.to_dict() for d in descriptions],
            }
        )
        return 0
    sys.stdout.write(
        f"environment {environment}; default backend {engine.environment_flags.backend}\n"
    )
    for description in descriptions:
        status = (
            "available"
            if description.unavailable_reason is None
            else (f"unavailable: {description.unavailable_reason}")
        )
        deprecated = " [DEPRECATED]" if description.deprecated else ""
        sys.stdout.write(
            f"\n{description.id}{deprecated} (plugin {description.plugin})\n"
            f"  {description.description}\n  {status}\n"
        )
        if description.endpoint is not None:
            sys.stdout.write(f"  endpoint: {description.endpoint}\n")
        if description.capabilities is not None:
            for key, value in description.to_dict()["capabilities"].items():
                sys.stdout.write(f"  {key}: {_shown(key, value)}\n")
    return 0


def _shown(key: str, value: object) -> object:
    """A capability as one readable line: module lists are counted (`--json` lists them)."""
    if key == "packages" and isinstance(value, dict):
        counts = [f"{language} {len(names)} modules" for language, names in value.items()]
        return (", ".join(counts) or "not declared") + " (--json lists them)"
    return value
