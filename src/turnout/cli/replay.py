"""`turnout replay FILE`: run exported real code nodes on every backend and compare them.

The corpus format is documented in `turnout.conformance.replay` and docs/conformance.md.
Output, report files and exit statuses are those of `turnout conformance`; the verdict
says whether every node that runs as recorded on the reference runs the same on a target.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from turnout.cli.conformance import ProgressBar, add_common_arguments, describe_start, finish
from turnout.cli.output import print_error
from turnout.conformance.backends import (
    build_engine,
    describe_backends,
    refresh_endpoints,
    select_backends,
)
from turnout.conformance.replay import load_corpus, replay, replay_report
from turnout.conformance.report import ParityReport
from turnout.conformance.runner import ConformanceRunner
from turnout.errors import TurnoutError
from turnout.flags import current_environment
from turnout.logging import configure_logging
from turnout.registry import default_registry

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay exported code nodes on every backend and compare",
        description="Run every node of a JSON-lines corpus ({config, context, expected?} per "
        "line) on every selected backend, compare each with its recorded outcome and with "
        "the reference backend, and write the same parity report as `turnout conformance`.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the JSON-lines corpus")
    parser.add_argument(
        "--run-side-effects",
        action="store_true",
        help="also run nodes not marked sideEffectFree on the targets (by default they run "
        "on the reference only, so an HTTP call or a write happens once; the report says "
        "which nodes ran once)",
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


async def _run(arguments: argparse.Namespace, progress: ProgressBar) -> ParityReport:
    nodes = load_corpus(arguments.file)
    registry = default_registry()
    ids = select_backends(registry, arguments.backend)
    engine = build_engine(
        registry, backend_ids=ids, environment=arguments.env, flags_path=arguments.flags
    )
    try:
        backends = describe_backends(engine, ids)
        runner = ConformanceRunner(
            engine, backends, concurrency=arguments.concurrency, reference=arguments.reference
        )
        progress.stream.write(describe_start(backends, len(nodes), "node"))
        results = await replay(
            runner, nodes, progress=progress, run_side_effects=arguments.run_side_effects
        )
        return replay_report(
            nodes,
            results,
            backends=refresh_endpoints(engine, backends),
            reference=arguments.reference,
            source=str(arguments.file),
        )
    finally:
        await engine.aclose()


def handle(arguments: argparse.Namespace) -> int:
    configure_logging(current_environment(arguments.env), level=logging.ERROR)
    progress = ProgressBar()
    try:
        report = asyncio.run(_run(arguments, progress))
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    return finish(report, arguments)
