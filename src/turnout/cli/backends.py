"""`turnout backends`: what is registered, whether it can load here, and what it can do.

Broken plugins are listed too, each with its distribution and its error on one line
(`--verbose` adds the traceback), so that one bad install is found here instead of
breaking every command (see `turnout.registry`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from turnout.cli.arguments import add_flags_argument
from turnout.cli.output import print_error, print_json, print_text
from turnout.engine import Engine
from turnout.errors import TurnoutError
from turnout.flags import current_environment
from turnout.logging import configure_logging
from turnout.registry import BackendRegistry

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
    parser.add_argument(
        "--verbose", action="store_true", help="show the traceback of each broken plugin"
    )
    parser.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    environment = current_environment(arguments.env)
    configure_logging(environment)
    try:
        engine = Engine(environment, flags_path=arguments.flags)
        descriptions = engine.describe_backends()
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    registry = engine.registry
    if arguments.json:
        print_json(
            {
                "environment": environment,
                "default": engine.environment_flags.backend,
                "backends": [d.to_dict() for d in descriptions],
                "plugins": _plugins(registry, with_traceback=arguments.verbose),
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
    _write_issues(registry, verbose=arguments.verbose)
    return 0


def _plugins(registry: BackendRegistry, *, with_traceback: bool) -> list[dict[str, Any]]:
    """Every plugin found (blocked ones are never imported, so not listed): where it came
    from, whether it is used, the backends it serves, and its issues."""
    listed = []
    for name, distribution in sorted(registry.distributions.items()):
        issues = [issue for issue in registry.issues if issue.plugin == name]
        listed.append(
            {
                "name": name,
                "distribution": distribution.to_dict() if distribution else None,
                "loaded": not any(issue.left_out for issue in issues),
                "backends": [entry.id for entry in registry if entry.plugin == name],
                "issues": [issue.to_dict(with_traceback=with_traceback) for issue in issues],
            }
        )
    return listed


_LABELS = {"warning": "warning", "error": "PROBLEM"}


def _write_issues(registry: BackendRegistry, *, verbose: bool) -> None:
    """Each plugin issue as a short paragraph after the backends: the plugin, its
    distribution, UNAVAILABLE when it is left out, the error, the fix."""
    for issue in registry.issues:
        label = "UNAVAILABLE" if issue.left_out else _LABELS[issue.severity]
        lines = [f"\n{issue.who}: {label}", f"  {issue.message}"]
        if issue.severity == "error":
            lines.append(f"  {issue.hint}")
        if issue.traceback and verbose:
            lines += [f"  {line}" for line in issue.traceback.rstrip().splitlines()]
        elif issue.traceback:
            lines.append("  (turnout backends --verbose shows the traceback)")
        print_text("\n".join(lines) + "\n")


def _shown(key: str, value: object) -> object:
    """A capability as one readable line: module lists are counted (`--json` lists them)."""
    if key == "packages" and isinstance(value, dict):
        counts = [f"{language} {len(names)} modules" for language, names in value.items()]
        return (", ".join(counts) or "not declared") + " (--json lists them)"
    return value
