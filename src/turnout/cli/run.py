"""`turnout run`: execute one code node from files or from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from turnout.cli.output import print_envelope, print_error
from turnout.errors import TurnoutError, ValidationError
from turnout.flags import current_environment
from turnout.logging import configure_logging

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run one code node",
        description="Run one code node and print its result envelope. The config is the "
        "node's stored JSON; --language/--code build one (or override its fields).",
    )
    parser.add_argument("--config", type=Path, help="node config JSON file")
    parser.add_argument("--context", type=Path, help="workflow context JSON file (default {})")
    parser.add_argument("--language", choices=("javascript", "python"))
    parser.add_argument("--code", help="the code itself (instead of a config's `code`)")
    parser.add_argument("--backend", help="backend id (default: the environment's)")
    parser.add_argument("--env", help="environment (default: $TURNOUT_ENV or development)")
    parser.add_argument("--tenant", help="tenant id (rollout bucketing, event and sandbox labels)")
    parser.add_argument("--workflow", help="workflow id (rollout bucketing and labels)")
    parser.add_argument(
        "--execution-id", help="the platform's execution id (rollout bucketing and labels)"
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.set_defaults(handler=handle)


def _read_json(path: Path, option: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(option, f"cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(option, f"{str(path)!r} is not valid JSON: {exc}") from None


def _node_config(arguments: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if arguments.config is not None:
        loaded = _read_json(arguments.config, "--config")
        if not isinstance(loaded, dict):
            raise ValidationError("--config", "must contain a JSON object")
        config.update(loaded)
    elif arguments.code is None:
        raise ValidationError("--config", "give --config FILE, or --language and --code")
    if arguments.language is not None:
        config["language"] = arguments.language
    if arguments.code is not None:
        config["code"] = arguments.code
    return config


async def _run(arguments: argparse.Namespace) -> dict[str, Any]:
    from turnout.client import Client

    context = {} if arguments.context is None else _read_json(arguments.context, "--context")
    config = _node_config(arguments)
    # One execution, then the process ends: nothing is worth preparing ahead.
    async with Client(environment=arguments.env, keep_warm=False) as client:
        envelope = await client.execute(
            config,
            context,
            backend=arguments.backend,
            tenant_id=arguments.tenant,
            workflow_id=arguments.workflow,
            execution_id=arguments.execution_id,
        )
    return envelope.to_dict()


def handle(arguments: argparse.Namespace) -> int:
    configure_logging(current_environment(arguments.env))
    try:
        envelope = asyncio.run(_run(arguments))
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    if arguments.json:
        print_envelope(envelope)
    else:
        _print_readable(envelope)
    return 0


def _print_readable(envelope: dict[str, Any]) -> None:
    if len(envelope) == 1 and "metadata" not in envelope:
        [(variable, envelope)] = envelope.items()
        sys.stdout.write(f"(wrapped as outputVariable {variable!r})\n")
    metadata = envelope["metadata"]
    sys.stdout.write(json.dumps(envelope["output"], ensure_ascii=False, indent=2) + "\n")
    for name in ("stdout", "stderr"):
        if envelope[name]:
            sys.stdout.write(f"--- {name} ---\n{envelope[name].rstrip()}\n")
    sys.stdout.write(
        f"--- {metadata['backend']}, {envelope['language']}, "
        f"{metadata['executionTime']} ms, output via {metadata['outputChannel']}"
        + (", output truncated" if metadata.get("truncated") else "")
        + "\n"
    )
