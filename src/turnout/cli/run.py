"""`turnout run`: execute one code node from files, standard input or the command line.

The config and the context are read as bytes and checked against turnout.limits (size,
nesting) before they are decoded: a hostile file is an invalid-input error (exit 2), never
a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from turnout.cli.arguments import add_flags_argument
from turnout.cli.output import print_envelope, print_error
from turnout.errors import TurnoutError, ValidationError
from turnout.flags import current_environment, locate_flags_file
from turnout.limits import MAX_CONFIG_BYTES, MAX_CONTEXT_BYTES, check_json_text
from turnout.logging import configure_logging

__all__ = ["read_json_input", "register"]

STDIN = "-"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run one code node",
        description="Run one code node and print its result envelope. The config is the "
        "node's stored JSON; --language/--code build one (or override its fields).",
    )
    parser.add_argument("--config", metavar="FILE", help="node config JSON file; - for stdin")
    parser.add_argument(
        "--context", metavar="FILE", help="workflow context JSON file (default {}); - for stdin"
    )
    parser.add_argument("--language", choices=("javascript", "python"))
    parser.add_argument("--code", help="the code itself (instead of a config's `code`)")
    parser.add_argument("--backend", metavar="ID", help="backend id (default: the environment's)")
    parser.add_argument("--env", help="environment (default: $TURNOUT_ENV or development)")
    add_flags_argument(parser)
    parser.add_argument("--tenant", help="tenant id (rollout bucketing, event and sandbox labels)")
    parser.add_argument("--workflow", help="workflow id (rollout bucketing and labels)")
    parser.add_argument(
        "--execution-id", help="the platform's execution id (rollout bucketing and labels)"
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.set_defaults(handler=handle)


def read_json_input(source: str, option: str, *, max_bytes: int) -> Any:
    """The JSON document in file `source` (standard input for `-`), checked against the
    size and nesting limits before it is decoded; any problem is a `ValidationError` on
    `option`."""
    name = "standard input" if source == STDIN else repr(source)
    try:
        if source == STDIN:
            data = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with open(source, "rb") as stream:
                data = stream.read(max_bytes + 1)
    except (OSError, AttributeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ValidationError(option, f"cannot read {name}: {reason}") from None
    check_json_text(data, option, max_bytes=max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            option,
            f"{name} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
            "cannot be decoded",
            "JSON text encoded as UTF-8",
        ) from None
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise ValidationError(option, f"{name} is not valid JSON: {exc}") from None


def _node_config(arguments: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if arguments.config is not None:
        loaded = read_json_input(arguments.config, "--config", max_bytes=MAX_CONFIG_BYTES)
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


def _inputs(arguments: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """The node config and the context, each read once (standard input can be read once)."""
    if arguments.config == STDIN and arguments.context == STDIN:
        raise ValidationError(
            "--context", "only one of --config and --context can be read from standard input"
        )
    config = _node_config(arguments)
    if arguments.context is None:
        return config, {}
    return config, read_json_input(arguments.context, "--context", max_bytes=MAX_CONTEXT_BYTES)


async def _run(arguments: argparse.Namespace) -> dict[str, Any]:
    from turnout.client import Client  # here: the other commands do not pay for it

    config, context = _inputs(arguments)
    flags = locate_flags_file(arguments.flags)  # --flags, else the variable, else ./
    # One execution, then the process ends: nothing is worth preparing ahead.
    async with Client(flags, environment=arguments.env, keep_warm=False) as client:
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
