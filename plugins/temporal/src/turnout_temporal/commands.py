"""`turnout worker`, added to the CLI by this plugin: serve code nodes as a Temporal activity.

Exit status: 0 after a graceful stop (SIGTERM or SIGINT), 1 when the worker cannot start
or stops on its own (broken flags or backends, Temporal unreachable), 2 for a bad argument.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from turnout.cli.arguments import add_flags_argument, positive_seconds
from turnout.errors import TurnoutError
from turnout.flags import current_environment
from turnout.logging import configure_logging, get_logger
from turnout_temporal.defaults import (
    ACTIVITY_NAME,
    DEFAULT_ADDRESS,
    DEFAULT_GRACE_S,
    DEFAULT_HEARTBEAT_INTERVAL_S,
    DEFAULT_NAMESPACE,
    DEFAULT_TASK_QUEUE,
)

__all__ = ["register"]

log = get_logger("turnout.temporal")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="serve code nodes as a Temporal activity (execute_code_node)",
        description=f"Poll a Temporal task queue and run each `{ACTIVITY_NAME}` activity "
        "task as one code node, with this environment's flags and backends. SIGTERM or "
        "SIGINT stops polling and drains (see --grace). See docs/temporal.md.",
    )
    parser.add_argument(
        "--address",
        metavar="HOST:PORT",
        help=f"Temporal frontend host:port (default: $TEMPORAL_ADDRESS, else {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--namespace",
        metavar="NAMESPACE",
        help=f"Temporal namespace (default: $TEMPORAL_NAMESPACE, else {DEFAULT_NAMESPACE})",
    )
    parser.add_argument(
        "--task-queue",
        default=DEFAULT_TASK_QUEUE,
        metavar="QUEUE",
        help=f"the task queue to poll (default {DEFAULT_TASK_QUEUE})",
    )
    add_flags_argument(parser)
    parser.add_argument("--env", help="environment (default: $TURNOUT_ENV or development)")
    parser.add_argument(
        "--grace",
        type=positive_seconds,
        default=DEFAULT_GRACE_S,
        metavar="SECONDS",
        help="on SIGTERM, how long executions in flight may finish before they are "
        f"cancelled and retried elsewhere (default {DEFAULT_GRACE_S:g})",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=positive_seconds,
        default=DEFAULT_HEARTBEAT_INTERVAL_S,
        metavar="SECONDS",
        help="most time between two heartbeats sent to Temporal, so how long a cancellation "
        f"takes to reach a running execution (default {DEFAULT_HEARTBEAT_INTERVAL_S:g})",
    )
    parser.set_defaults(handler=_handle)


def _handle(arguments: argparse.Namespace) -> int:
    from turnout_temporal.worker import WorkerSettings

    configure_logging(current_environment(arguments.env))
    settings = WorkerSettings(
        address=arguments.address,
        namespace=arguments.namespace,
        task_queue=arguments.task_queue,
        flags_path=arguments.flags,
        environment=arguments.env,
        grace_s=arguments.grace,
        heartbeat_interval_s=arguments.heartbeat_interval,
    )
    try:
        asyncio.run(_serve(settings))
    except TurnoutError as error:
        sys.stderr.write(f"error: {error.message}\n")
        return 1
    except RuntimeError as error:  # what the Temporal SDK raises: unreachable, no namespace
        sys.stderr.write(f"error: the Temporal worker could not run: {error}\n")
        return 1
    return 0


async def _serve(settings: Any) -> None:
    from turnout_temporal.worker import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(received: signal.Signals) -> None:
        if not stop.is_set():
            log.warning("shutdown_signal", signal=received.name, grace_s=settings.grace_s)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    await run_worker(settings, stop)
