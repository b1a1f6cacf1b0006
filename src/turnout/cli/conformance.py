"""`turnout conformance`: run the conformance suite on backends and write the parity report.

stdout gets the summary (or, with --json, exactly one JSON object: parity.json's content);
stderr gets the progress bar. The last line is the verdict: whether the legacy backend can
be deleted; a run narrowed by --theme or --case is partial and its verdict line says so
instead of deciding. Exit status: 0 when nothing unexpected happened, 1 when a case failed,
errored or a ledger entry went stale, 2 for invalid arguments (unknown backend, theme or
case, or a selection that matches no case).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from turnout.cli.arguments import add_flags_argument
from turnout.cli.output import print_error, print_json, print_text
from turnout.conformance.backends import DEFAULT_REFERENCE, BackendUnderTest
from turnout.conformance.report import ParityReport
from turnout.conformance.runner import CaseResult
from turnout.conformance.session import ConformanceSession
from turnout.errors import TurnoutError
from turnout.flags import current_environment
from turnout.logging import configure_logging
from turnout.reports.html import describe_html

__all__ = ["ProgressBar", "add_common_arguments", "print_summary", "register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "conformance",
        help="run the conformance suite and write the parity report",
        description="Run every conformance case on every selected backend (default: all "
        "registered), compare the backends with each other, and report whether the legacy "
        "backend can be deleted. See docs/conformance.md.",
    )
    parser.add_argument(
        "--theme", action="append", default=[], metavar="T", help="only this theme (repeatable)"
    )
    parser.add_argument(
        "--case", action="append", default=[], metavar="ID", help="only this case (repeatable)"
    )
    parser.add_argument(
        "--cases", type=Path, metavar="DIR", help="case directory (default: packaged)"
    )
    parser.add_argument(
        "--ledger", type=Path, metavar="FILE", help="divergence ledger (default: packaged)"
    )
    parser.add_argument(
        "--mutants",
        action="store_true",
        help="prove the suite catches broken backends: run it against every mutant of the "
        "reference (deliberately broken wrappers of it) and fail unless each is caught",
    )
    parser.add_argument(
        "--mutant",
        action="append",
        default=[],
        metavar="ID",
        help="with --mutants: only this mutant (repeatable)",
    )
    add_common_arguments(parser)
    parser.set_defaults(handler=handle)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options `conformance` and `replay` share."""
    parser.add_argument(
        "--backend",
        action="append",
        default=[],
        metavar="ID",
        help="backend to run on (repeatable; default: every registered backend)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write parity.json, parity.md and parity.html (with the reports extra) here",
    )
    parser.add_argument("--json", action="store_true", help="print parity.json's content on stdout")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        metavar="N",
        help="executions in flight per backend (default 4; never above the backend's own limit)",
    )
    parser.add_argument(
        "--reference",
        default=DEFAULT_REFERENCE,
        metavar="ID",
        help=f"the legacy backend the others are compared with (default {DEFAULT_REFERENCE})",
    )
    parser.add_argument("--env", help="environment (default: $TURNOUT_ENV or development)")
    add_flags_argument(parser)


class ProgressBar:
    """A progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise."""

    WIDTH = 30

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._last_decile = -1
        self.failures = 0

    def __call__(self, done: int, total: int, result: CaseResult) -> None:
        if result.status in ("fail", "error"):
            self.failures += 1
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        # Raw results: the ledger (accepted divergences) is applied once all have run.
        failing = f", {self.failures} failing before the ledger" if self.failures else ""
        line = f"[{bar}] {done}/{total}{failing}"
        if self.interactive:
            self.stream.write(f"\r{line} {result.backend}: {result.case_id}"[:120].ljust(120))
            if done == total:
                self.stream.write("\n")
        else:
            decile = 10 * done // max(total, 1)
            if decile != self._last_decile:
                self._last_decile = decile
                self.stream.write(line + "\n")
        self.stream.flush()


def describe_start(backends: list[BackendUnderTest], count: int, noun: str) -> str:
    where = "; ".join(
        f"{b.id} at {b.endpoint}"
        if b.unavailable is None
        else f"{b.id} (unavailable: {b.unavailable})"
        for b in backends
    )
    return f"running {count} {noun}s on {len(backends)} backend(s): {where}\n"


def print_summary(report: ParityReport, stream: TextIO | None = None) -> None:
    """The human summary: backends and endpoints, totals per theme, unexpected results,
    and the verdict as the very last line; scrubbed like the report files (reasons quote
    outputs and errors)."""
    out = stream or sys.stdout
    for backend in report.backends:
        state = (
            backend.endpoint
            if backend.unavailable is None
            else f"unavailable: {backend.unavailable}"
        )
        deprecated = " [deprecated]" if backend.deprecated else ""
        print_text(f"{backend.id}{deprecated}: {state}\n", out)
    totals = report.totals()
    ids = [backend.id for backend in report.backends]
    width = max((len(theme) for theme in totals), default=5)
    for theme, per_backend in totals.items():
        cells = "   ".join(
            f"{backend_id}: "
            + (
                ", ".join(f"{n} {status}" for status, n in per_backend.get(backend_id, {}).items())
                or "-"
            )
            for backend_id in ids
        )
        print_text(f"  {theme.ljust(width)}  {cells}\n", out)
    for result in report.unexpected:
        print_text(
            f"UNEXPECTED {result.status}: {result.case_id} on {result.backend}: {result.reason}\n",
            out,
        )
    print_text(report.verdict.line + "\n", out)


async def _run(arguments: argparse.Namespace, progress: ProgressBar) -> ParityReport:
    session = ConformanceSession.open(
        backend_ids=arguments.backend,
        themes=arguments.theme,
        case_ids=arguments.case,
        cases_dir=arguments.cases,
        ledger_path=arguments.ledger,
        environment=arguments.env,
        flags_path=arguments.flags,
        concurrency=arguments.concurrency,
        reference=arguments.reference,
    )
    try:
        progress.stream.write(describe_start(session.backends, len(session.cases), "case"))
        results = await session.run(progress=progress)
        return session.report(results)
    finally:
        ended = await session.aclose()
        if ended:
            progress.stream.write(f"ended {ended} process(es) the backends left running\n")


def finish(report: ParityReport, arguments: argparse.Namespace) -> int:
    """Write the report files, print the summary or JSON, and return the exit status."""
    if arguments.report is not None:
        json_path, md_path = report.write(arguments.report)
        sys.stderr.write(f"wrote {json_path} and {md_path}\n")
        sys.stderr.write(describe_html(arguments.report / "parity.html") + "\n")
    if arguments.json:
        print_json(report.to_dict())
        sys.stderr.write(report.verdict.line + "\n")
    else:
        print_summary(report)
    if report.selection is not None and report.selection.empty:
        return 2
    return 1 if report.unexpected else 0


def handle(arguments: argparse.Namespace) -> int:
    configure_logging(current_environment(arguments.env), level=logging.ERROR)
    if arguments.mutants or arguments.mutant:
        return handle_mutants(arguments)
    progress = ProgressBar()
    try:
        report = asyncio.run(_run(arguments, progress))
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    return finish(report, arguments)


def handle_mutants(arguments: argparse.Namespace) -> int:
    """`--mutants`: one line per mutant (the case that caught it, or that none did), then
    the summary; exit 1 unless every mutant is caught."""
    from turnout.conformance.mutants import MUTANTS, run_mutants

    misplaced = [
        name
        for name, given in (
            ("--theme", arguments.theme),
            ("--case", arguments.case),
            ("--backend", arguments.backend),
            ("--report", arguments.report),
        )
        if given
    ]
    unknown = sorted(set(arguments.mutant) - {mutant.id for mutant in MUTANTS})
    if misplaced or unknown:
        problem = (
            f"{', '.join(misplaced)} cannot be combined with --mutants (the hunt runs the whole "
            "suite on every mutant)"
            if misplaced
            else f"unknown mutant(s) {', '.join(unknown)}; known: "
            + ", ".join(mutant.id for mutant in MUTANTS)
        )
        sys.stderr.write(f"Error: {problem}\n")
        return 2

    def found(mutant: str, result: CaseResult) -> None:
        sys.stderr.write(f"{mutant}: failed {result.case_id}\n")

    try:
        report = asyncio.run(
            run_mutants(
                reference=arguments.reference,
                only=arguments.mutant,
                cases_dir=arguments.cases,
                environment=arguments.env,
                flags_path=arguments.flags,
                on_catch=found,
            )
        )
    except TurnoutError as error:
        return print_error(error, as_json=arguments.json)
    if arguments.json:
        print_json(report.to_dict())
    else:
        for catch in report.catches:
            print_text(catch.line() + "\n")
        print_text(report.summary() + "\n")
    return 0 if report.ok else 1
