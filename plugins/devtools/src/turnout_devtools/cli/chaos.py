"""`turnout chaos`: run executions through turnout against the local E2B-compatible server
with injected faults, and check that nothing is lost.

stdout gets the table (or, with --json, exactly one JSON object); stderr gets progress.
Exit status: 0 when the four required properties hold (every execution accounted for,
every error classified with the right `retryable`, zero leaked sandboxes, no call over
its timeout + 1 s), 1 when one is violated or the run could not be done, 2 for invalid
arguments. E2B's cloud is never used. See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from turnout.cli.arguments import whole_number
from turnout.cli.output import print_error, print_json
from turnout.errors import TurnoutError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add `chaos` to the `turnout` parser."""
    from turnout_devtools.chaos.spec import DEFAULT_SPEC, FAULT_KINDS

    parser = subparsers.add_parser(
        "chaos",
        help="run executions against the local E2B server with injected faults",
        description="Start the local E2B-compatible server, run --executions through turnout "
        "(backend e2b), --concurrency at once, while injecting faults, and check that every "
        "execution is accounted for, every error has the right retryable flag, no sandbox "
        "leaks and no call outlives its timeout + 1 s. See docs/reliability.md.",
    )
    parser.add_argument(
        "--executions",
        type=_positive,
        default=100,
        metavar="N",
        help="executions to run (default 100)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive,
        default=20,
        metavar="N",
        help="executions in flight at once (default 20)",
    )
    parser.add_argument(
        "--faults",
        default=DEFAULT_SPEC,
        metavar="SPEC",
        help=f"KIND=PERCENT%%,... with KIND one of {', '.join(FAULT_KINDS)}, or 'none' "
        f"(default {DEFAULT_SPEC.replace('%', '%%')})",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="plan seed (default 0)")
    parser.add_argument(
        "--max-sandboxes",
        type=_positive,
        default=None,
        metavar="N",
        help="the server's cap on live sandboxes; creates beyond it answer 429 "
        "(default: the concurrency)",
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the report as one HTML page with charts: outcomes by fault, a "
        "latency histogram, leaked sandboxes (needs turnout[reports])",
    )
    parser.set_defaults(handler=handle)


_positive = whole_number(1)


def handle(arguments: argparse.Namespace) -> int:
    from turnout_devtools.chaos import ChaosOptions, FaultSpec, render_text, run_chaos

    try:
        spec = FaultSpec.parse(arguments.faults)
        if arguments.html is not None:
            from turnout.reports.html import check_html_target

            check_html_target(arguments.html)
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    options = ChaosOptions(
        executions=arguments.executions,
        concurrency=arguments.concurrency,
        spec=spec,
        seed=arguments.seed,
        max_sandboxes=arguments.max_sandboxes,
    )
    step = max(1, arguments.executions // 10)

    def progress(done: int, total: int) -> None:
        if done % step == 0 or done == total:
            sys.stderr.write(f"chaos: {done}/{total} executions done\n")
            sys.stderr.flush()

    try:
        report = asyncio.run(run_chaos(options, progress=progress))
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    if arguments.json:
        print_json(report.to_dict())
    else:
        sys.stdout.write(render_text(report))
    if arguments.html is not None:
        from turnout_devtools.html.chaos import write_chaos_html

        sys.stderr.write(f"wrote {write_chaos_html(report.to_dict(), arguments.html)}\n")
    return 0 if report.ok else 1
