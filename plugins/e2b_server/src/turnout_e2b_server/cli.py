"""`python -m turnout_e2b_server`: run the local E2B-compatible server until stopped.

Why a CLI: CI jobs and other test processes start it as a subprocess. It prints exactly
one line to stdout, the base URL, once it accepts requests (logs go to stderr), and stops
cleanly (every sandbox killed, exit status 0) on SIGTERM or Ctrl-C.

The API key is best handed over on standard input (`--api-key-stdin`): a command line is
readable by every process of the machine and an environment variable by every process of
the same user, standard input only by the process that started the server. Without a key,
any non-empty key is accepted.

    URL=$(python -m turnout_e2b_server --port 0 --create-delay-ms 150 | head -n1)
    python -c 'import secrets; print(secrets.token_urlsafe(32))' > key.txt
    python -m turnout_e2b_server --api-key-stdin < key.txt
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from turnout_e2b_server.config import ServerConfig

__all__ = [
    "DESCRIPTION",
    "KEY_OPTIONS",
    "add_arguments",
    "command_line",
    "main",
    "parse_args",
    "serve",
]

DESCRIPTION = "A local stand-in for E2B (control plane, code interpreter, envd files)."
KEY_OPTIONS = ("api_key", "api_key_stdin")
"""The options that hand the server its key: a supervisor hands it over itself."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m turnout_e2b_server", description=DESCRIPTION)
    add_arguments(parser)
    return parser.parse_args(argv)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's options, on `python -m turnout_e2b_server` and `turnout e2b serve` alike.

    Importing this module does not import the server itself (uvicorn, kernels), so that
    every `turnout` command can offer `e2b serve` without paying for it.
    """
    defaults = ServerConfig()
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: a free port)")
    parser.add_argument(
        "--create-delay-ms",
        type=int,
        default=defaults.create_delay_ms,
        metavar="MS",
        help=f"latency added to every sandbox create, as E2B's ~150 ms (default "
        f"{defaults.create_delay_ms})",
    )
    parser.add_argument(
        "--kill-delay-ms",
        type=int,
        default=defaults.kill_delay_ms,
        metavar="MS",
        help=f"latency added to every sandbox kill (default {defaults.kill_delay_ms})",
    )
    parser.add_argument(
        "--max-sandboxes",
        type=int,
        default=defaults.max_sandboxes,
        metavar="N",
        help="live sandboxes allowed at once; a create beyond it answers 429 (default: no cap)",
    )
    parser.add_argument(
        "--default-timeout-s",
        type=int,
        default=defaults.default_timeout_s,
        metavar="SECONDS",
        help=f"sandbox lifetime when a create gives none (default {defaults.default_timeout_s})",
    )
    parser.add_argument(
        "--keepalive-s",
        type=float,
        default=defaults.keepalive_s,
        metavar="SECONDS",
        help=f"silence on an execution's stream after which a keepalive line is sent "
        f"(default {defaults.keepalive_s:g})",
    )
    for language in ("python", "javascript"):
        parser.add_argument(
            f"--{language}-pool",
            type=int,
            default=defaults.pool_sizes[language],
            metavar="N",
            help=f"{language} kernels kept started, ready for the next sandboxes (default "
            f"{defaults.pool_sizes[language]})",
        )
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--api-key",
        default=None,
        help="accept only this X-API-KEY (visible in the process list: prefer --api-key-stdin)",
    )
    keys.add_argument(
        "--api-key-stdin",
        action="store_true",
        help="read the only accepted X-API-KEY from the first line of standard input",
    )
    parser.add_argument("--root-dir", type=Path, default=None, help="parent of the temp root")
    parser.add_argument(
        "--exit-with-parent", action="store_true", help="stop when the parent process dies"
    )
    parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="run kernels unconfined: as the server's user, with the host's processes, "
        "network and files (only where no untrusted code runs)",
    )
    parser.add_argument(
        "--require-isolation",
        action="store_true",
        help="refuse to start (exit status 2) where kernels cannot be confined, instead of "
        "running them unconfined",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=("debug", "info", "warning", "error", "critical"),
        help="the server's log level, on stderr (default warning)",
    )


def command_line(args: argparse.Namespace) -> list[str]:
    """The options of parsed `args` as a command line of the server again, without the
    key options (KEY_OPTIONS): how `turnout e2b serve` passes what it parsed on to the
    server it supervises."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    argv: list[str] = []
    for action in parser._actions:
        if action.dest in KEY_OPTIONS or not action.option_strings:
            continue
        value = getattr(args, action.dest, action.default)
        option = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            argv += [option] if value else []
        elif value is not None:
            argv += [option, str(value)]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    return serve(parse_args(argv))


def serve(args: argparse.Namespace) -> int:
    """Run the server with parsed options until SIGTERM or Ctrl-C; the exit status."""
    from turnout_e2b_server.runner import IsolationRequiredError, LocalE2BServer

    api_key = args.api_key
    if args.api_key_stdin:
        api_key = sys.stdin.readline().strip()
        if not api_key:
            print("error: --api-key-stdin: standard input held no key", file=sys.stderr)
            return 2
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = ServerConfig(
        create_delay_ms=args.create_delay_ms,
        kill_delay_ms=args.kill_delay_ms,
        max_sandboxes=args.max_sandboxes,
        default_timeout_s=args.default_timeout_s,
        keepalive_s=args.keepalive_s,
        pool_sizes={"python": args.python_pool, "javascript": args.javascript_pool},
        api_key=api_key,
    )
    try:
        server = LocalE2BServer(
            config,
            host=args.host,
            port=args.port,
            root_parent=args.root_dir,
            isolate=not args.no_isolation,
            require_isolation=args.require_isolation,
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def announce() -> None:
        print(server.url, flush=True)

    # uvicorn handles SIGINT/SIGTERM while serving, then re-raises the signal it caught;
    # these no-op handlers make that re-raise harmless, so a clean stop exits with 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: None)
    try:
        asyncio.run(server.serve(announce, exit_with_parent=args.exit_with_parent))
    except IsolationRequiredError as exc:
        print(f"error: --require-isolation: {exc}", file=sys.stderr)
        return 2
    return 0
