"""`turnout e2b serve`: the local E2B-compatible server, run through its supervisor.

The options are the server's own (`turnout_e2b_server.cli`); the command starts the
server as a child process (`turnout_e2b_server.supervisor.ServerProcess`, as the embedded
default and the tests do), prints its URL once it accepts requests, and on SIGTERM or
Ctrl-C stops it and checks that it left nothing behind: exit 0 when it did not, 1 when it
did (what is said on stderr), 2 when it could not start. The server's log goes to stderr.

The server is the turnout-e2b-server distribution (the `local-server` extra): where it is
not installed, the command still exists, takes any arguments (`--help` too), and says what
to install.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from turnout_e2b.embedded import NOT_INSTALLED

__all__ = ["add_serve_command"]

HELP = "run the local E2B-compatible server (127.0.0.1 by default)"
EPILOG = "It prints its URL on stdout once it accepts requests and runs until SIGTERM or Ctrl-C."
# How often the command looks whether the server exited by itself.
_POLL_S = 0.5
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def add_serve_command(commands: Any) -> None:
    """Add `serve` to the `e2b` command group, with the server's options when installed."""
    try:
        from turnout_e2b_server.cli import DESCRIPTION, add_arguments
    except ImportError:
        # Every argument (options included: no prefix character is "-") is taken as is,
        # so that whatever the server would have accepted gets the same answer.
        missing = commands.add_parser(
            "serve",
            help=HELP,
            description=f"Not available here: {NOT_INSTALLED}.",
            prefix_chars="+",
            add_help=False,
        )
        missing.add_argument("server_options", nargs="*", help=argparse.SUPPRESS)
        missing.set_defaults(handler=_not_installed)
        return
    serve = commands.add_parser(
        "serve",
        help=HELP,
        description=f"{DESCRIPTION} {EPILOG} See docs/backends/e2b.md.",
    )
    add_arguments(serve)
    serve.set_defaults(handler=_serve)


def _not_installed(arguments: argparse.Namespace) -> int:
    print(f"error: {NOT_INSTALLED}", file=sys.stderr)
    return 2


def _serve(arguments: argparse.Namespace) -> int:
    from turnout_e2b_server.cli import command_line
    from turnout_e2b_server.supervisor import ServerLeakError, ServerProcess, ServerStartError

    key: str | None = arguments.api_key
    if arguments.api_key_stdin:
        key = sys.stdin.readline().strip()
        if not key:
            print("error: --api-key-stdin: standard input held no key", file=sys.stderr)
            return 2
    server = ServerProcess(
        *command_line(arguments),
        api_key=key,
        hand_over_key=key is not None,
        wait_for_pool=False,
        log_to_stderr=True,
    )
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in _SIGNALS}
    try:
        try:
            server.start()
        except (OSError, ServerStartError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(server.url, flush=True)
        while not stopping.wait(_POLL_S) and server.running():
            pass
        try:
            server.stop()
        except ServerLeakError as exc:
            print(f"error: the server left something behind: {exc}", file=sys.stderr)
            return 1
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
