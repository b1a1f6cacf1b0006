"""`turnout bench [--quick] [--json]`: turnout's overhead, measured and judged against its bounds.

Runs every section of `turnout_devtools.bench` in one process (a local E2B-compatible server is
started for the e2b sections; E2B's cloud is never used), prints a table of the bounds and
the figures behind them, or one JSON object with `--json`. `--quick` uses fewer
repetitions (under two minutes on 2 cores). The exit status is 0 whenever the bench ran,
whatever the bounds say (a missed bound is a finding, not a crash); 2 for bad arguments.
Reproducing and reading the results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from turnout.cli.arguments import whole_number
from turnout.cli.output import print_error, print_json
from turnout.errors import TurnoutError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add `bench` to the `turnout` parser."""
    parser = subparsers.add_parser(
        "bench",
        help="measure turnout's overhead, the warm pool, concurrency, memory and start-up",
        description="Measure, side by side and as ratios: local-subprocess and e2b against "
        "their raw baselines, the warm pool, throughput at concurrency 1/4/16, 10 MB "
        "payloads, RSS over many executions and start-up. See docs/performance.md.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (< 2 min)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the report as one HTML page with charts: latency distributions "
        "side by side, each ratio against its bound (needs turnout[reports])",
    )
    # For tests and investigations: a subset of sections and a fixed repetition count.
    parser.add_argument("--only", type=_sections, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--iterations", type=_positive, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=handle)


def _sections(text: str) -> list[str]:
    from turnout_devtools.bench import available_sections

    known = available_sections()
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown) or text!r}; known: {', '.join(known)}"
        )
    return names


_positive = whole_number(1)


def handle(arguments: argparse.Namespace) -> int:
    from turnout_devtools.bench import run_bench
    from turnout_devtools.bench.render import render_text

    if arguments.html is not None:
        from turnout.reports.html import check_html_target

        try:
            check_html_target(arguments.html)
        except TurnoutError as error:
            return print_error(error, as_json=arguments.json)

    def progress(message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    report = run_bench(
        quick=arguments.quick,
        only=arguments.only,
        iterations=arguments.iterations,
        progress=progress,
    )
    if arguments.json:
        print_json(report)
    else:
        sys.stdout.write(render_text(report))
    if arguments.html is not None:
        from turnout_devtools.html.bench import write_bench_html

        sys.stderr.write(f"wrote {write_bench_html(report, arguments.html)}\n")
    return 0
