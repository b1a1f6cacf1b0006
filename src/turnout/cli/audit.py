"""`turnout audit NODES...`: a migration preflight over stored code nodes.

Reads node configs, directories of them and replay corpora, judges each node's config and
code against the target backend as the environment configures it, and (with `--run`) runs
every node on legacy and the target. stdout gets the table (or, with `--json`, exactly one
JSON object); `--report DIR` writes audit.json and audit.md. Exit status: 0 when no node is
blocked, 1 when one is (or the target cannot load), 2 for input that cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from turnout.audit.audit import audit_nodes
from turnout.audit.dynamic import run_nodes
from turnout.audit.loading import load_nodes
from turnout.audit.render import render_markdown, render_text
from turnout.audit.report import AuditReport
from turnout.audit.target import describe_target
from turnout.cli.arguments import add_flags_argument, whole_number
from turnout.cli.conformance import ProgressBar
from turnout.cli.output import print_error, print_json
from turnout.conformance.backends import refresh_endpoints
from turnout.engine import Engine
from turnout.errors import TurnoutError, ValidationError
from turnout.flags import current_environment
from turnout.logging import configure_logging

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check stored code nodes before migrating them (a preflight)",
        description="Judge every node (config files, directories of them, replay corpora) "
        "against the target backend: each is ready, attention or blocked, each finding with "
        "its line and fix. Suggests shadow_ignore rules, overrides and the packages the "
        "target must add. See docs/audit.md.",
    )
    parser.add_argument(
        "nodes",
        nargs="+",
        type=Path,
        metavar="NODES",
        help="node config files (.json), replay corpora (.jsonl) or directories of them",
    )
    parser.add_argument(
        "--target",
        metavar="BACKEND",
        help="judge against this backend (default: the environment's target_backend)",
    )
    parser.add_argument("--env", help="environment (default: $TURNOUT_ENV or development)")
    add_flags_argument(parser)
    parser.add_argument(
        "--context",
        type=Path,
        metavar="FILE",
        help="context (a JSON object) for nodes that have no recorded one",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--report", type=Path, metavar="DIR", help="write audit.json and audit.md here"
    )
    parser.add_argument(
        "--run",
        action="store_true",
        help="also run every node on legacy and "
        "the target, and check the findings against what happened",
    )
    parser.add_argument(
        "--run-side-effects",
        action="store_true",
        help="with --run, also run nodes that call the network or write files (they run twice)",
    )
    parser.add_argument(
        "--concurrency",
        type=whole_number(1),
        default=4,
        metavar="N",
        help="with --run, executions in flight per backend (default 4)",
    )
    parser.set_defaults(handler=handle)


def _read_context(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError("--context", f"cannot read {str(path)!r}: {error}") from None
    except ValueError as error:
        raise ValidationError("--context", f"{str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValidationError("--context", f"{str(path)!r} must hold a JSON object")
    return data


async def _audit(arguments: argparse.Namespace) -> AuditReport:
    loaded = load_nodes(arguments.nodes)
    context = None if arguments.context is None else _read_context(arguments.context)
    # The flag file says which backend is the target and how it is configured: required.
    engine = Engine(arguments.env, flags_path=arguments.flags)
    try:
        target = describe_target(engine, arguments.target)
        audits = audit_nodes(loaded.nodes, target, context=context)
        if arguments.run:
            await run_nodes(
                engine,
                target,
                audits,
                loaded.nodes,
                context=context,
                include_side_effects=arguments.run_side_effects,
                concurrency=arguments.concurrency,
                progress=ProgressBar(),
            )
            # the embedded server starts with the first execution: show where it ran
            target = replace(target, target=refresh_endpoints(engine, [target.target])[0])
        return AuditReport(
            target,
            audits,
            skipped=loaded.skipped,
            ran=arguments.run,
            sources=[str(path) for path in arguments.nodes],
        )
    finally:
        await engine.aclose()


def handle(arguments: argparse.Namespace) -> int:
    configure_logging(current_environment(arguments.env), level=logging.ERROR)
    try:
        report = asyncio.run(_audit(arguments))
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    if arguments.report is not None:
        arguments.report.mkdir(parents=True, exist_ok=True)
        (arguments.report / "audit.json").write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        (arguments.report / "audit.md").write_text(render_markdown(report), encoding="utf-8")
        sys.stderr.write(
            f"wrote {arguments.report / 'audit.json'} and {arguments.report / 'audit.md'}\n"
        )
    if arguments.json:
        print_json(report.to_dict())
    else:
        sys.stdout.write(render_text(report))
    return report.exit_status
