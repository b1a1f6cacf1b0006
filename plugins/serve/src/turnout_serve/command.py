"""`turnout serve`, added to the CLI by this plugin: code-node executions over HTTP.

Exit status: 0 after a drain (SIGTERM or SIGINT), 1 when the service cannot start (bad
flags, a port in use, a public address without a token), 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from turnout.cli.arguments import positive_seconds, whole_number
from turnout.errors import TurnoutError
from turnout.flags import current_environment
from turnout.logging import configure_logging
from turnout_serve.settings import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_GRACE_S,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_PROVISIONING_BUDGET_S,
    TOKENS_VARIABLE,
    ServiceSettings,
)

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve code-node executions over HTTP (POST /v1/executions)",
        description="Run code nodes for callers in any language over HTTP, with this "
        "environment's flags and backends. Prints the URL it listens on as its first line. "
        "SIGTERM drains (see --grace). See docs/service.md.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to bind; 0 picks a free one (default 8080)"
    )
    parser.add_argument(
        "--flags",
        type=Path,
        help="feature flag file (default: $TURNOUT_FLAGS_FILE, else ./feature_flags.toml)",
    )
    parser.add_argument("--env", help="environment (default: $TURNOUT_ENV or development)")
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help=f"accepted bearer tokens, one a line (also: ${TOKENS_VARIABLE}, comma-separated); "
        "required to bind any address but loopback",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=whole_number(1),
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="BYTES",
        help=f"largest request body (default {DEFAULT_MAX_BODY_BYTES}, 16 MiB)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=whole_number(1),
        default=DEFAULT_MAX_CONCURRENCY,
        metavar="N",
        help=f"executions at once; more get 429 (default {DEFAULT_MAX_CONCURRENCY})",
    )
    parser.add_argument(
        "--body-timeout",
        type=positive_seconds,
        default=DEFAULT_BODY_TIMEOUT_S,
        metavar="SECONDS",
        help=f"time a request body may take to arrive; slower gets 408 "
        f"(default {DEFAULT_BODY_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--provisioning-budget",
        type=positive_seconds,
        default=DEFAULT_PROVISIONING_BUDGET_S,
        metavar="SECONDS",
        help="added to a node's timeout for its request's deadline (default "
        f"{DEFAULT_PROVISIONING_BUDGET_S:g})",
    )
    parser.add_argument(
        "--grace",
        type=positive_seconds,
        default=DEFAULT_GRACE_S,
        metavar="SECONDS",
        help="on SIGTERM, how long executions in flight may finish before they are "
        f"interrupted (default {DEFAULT_GRACE_S:g})",
    )
    parser.add_argument(
        "--flag-check-interval",
        type=positive_seconds,
        metavar="SECONDS",
        help="how often the flag file is checked for changes (default: the library's, 2)",
    )
    parser.add_argument(
        "--openapi",
        action="store_true",
        help="print the OpenAPI document (docs/openapi.json) and exit",
    )
    parser.set_defaults(handler=_handle)


def _handle(arguments: argparse.Namespace) -> int:
    if arguments.openapi:
        from turnout_serve.openapi import render

        sys.stdout.write(render())
        return 0
    configure_logging(current_environment(arguments.env))
    try:
        settings, client = _prepare(arguments)
    except TurnoutError as error:
        sys.stderr.write(f"error: {error.message}\n")
        return 1
    from turnout_serve.server import serve

    try:
        asyncio.run(serve(settings, client))
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def _prepare(arguments: argparse.Namespace) -> tuple[ServiceSettings, Any]:
    """The settings and the client, checked before any port is bound."""
    from turnout.client import Client
    from turnout_serve.settings import load_tokens

    settings = ServiceSettings(
        host=arguments.host,
        port=arguments.port,
        flags_path=arguments.flags,
        environment=arguments.env,
        tokens=load_tokens(arguments.token_file),
        max_body_bytes=arguments.max_body_bytes,
        max_concurrency=arguments.max_concurrency,
        body_timeout_s=arguments.body_timeout,
        provisioning_budget_s=arguments.provisioning_budget,
        grace_s=arguments.grace,
        flag_check_interval_s=arguments.flag_check_interval,
    )
    options: dict[str, Any] = {"grace_s": settings.grace_s}
    if settings.flag_check_interval_s is not None:
        options["check_interval"] = settings.flag_check_interval_s
    flags = str(settings.flags_path) if settings.flags_path is not None else None
    client = Client(flags, settings.environment, **options)
    return settings, client
