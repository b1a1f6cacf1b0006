"""`turnout rollout report LOGFILE`: what a staged migration did, and whether to go on.

Operators run it over the JSON log lines of a window (a day of one environment's logs,
say) before each step of docs/migration-runbook.md: it prints, per environment and stage,
executions, runs and error rates per backend, shadow comparisons, mismatches, ignored
differences, shed shadows and fallbacks, and whether the gate to the next stage is met.
The gate thresholds default to the runbook's; each `--gate-*` flag overrides one.

Exit status: 0 whenever the log could be read, whatever the gates say (a gate is a
judgement for a person, not a failure); 2 when it cannot be read or an argument is invalid.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

from turnout.cli.arguments import whole_number
from turnout.cli.output import print_error, print_json
from turnout.errors import TurnoutError, ValidationError
from turnout.rollout import Thresholds, read_report, render_text

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add `rollout report` to the `turnout` parser."""
    parser = subparsers.add_parser(
        "rollout",
        help="report on a staged migration from the JSON logs",
        description="Read turnout's JSON log lines and report, per environment and stage, "
        "what ran where and whether the promotion gate of docs/migration-runbook.md is met.",
    )
    commands = parser.add_subparsers(dest="rollout_command", required=True, metavar="SUBCOMMAND")
    report = commands.add_parser(
        "report",
        help="counts, error rates, comparisons and gates per environment and stage",
        description="Count the executions, runs per backend, shadow comparisons, shed shadows "
        "and fallbacks in LOGFILE per environment and stage, and evaluate each stage's "
        "promotion gate. Lines that are not turnout rollout events are skipped and counted.",
    )
    report.add_argument("logfile", metavar="LOGFILE", help="JSON log lines; - for stdin; .gz ok")
    report.add_argument("--json", action="store_true", help="print one JSON object")
    report.add_argument("--env", help="only this environment (default: every one in the log)")
    report.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the report as one HTML page with charts: rates per hour against "
        "the gates, latency and cost per backend (needs turnout[reports])",
    )
    report.add_argument(
        "--merge-steps",
        action="store_true",
        help="count a stage's events together across flag edits (by default each flag "
        "configuration in the log is its own block, with its own hours and gate)",
    )
    _gate_arguments(report)
    report.set_defaults(handler=handle_report)


def _gate_arguments(parser: argparse.ArgumentParser) -> None:
    limits = Thresholds()
    rate = "; a fraction or a percentage, e.g. 0.001 or 0.1%%"
    options: list[tuple[str, Any, object, str, str]] = [
        ("min-comparisons", _count, limits.min_comparisons, "N", "at least N comparisons"),
        (
            "max-mismatch-rate",
            _rate,
            limits.max_mismatch_rate,
            "R",
            f"at most this share of comparisons mismatch{rate}",
        ),
        (
            "max-infra-error-rate",
            _rate,
            limits.max_infrastructure_error_rate,
            "R",
            f"at most this share of the target's runs fail on infrastructure{rate}",
        ),
        (
            "max-candidate-error-rate",
            _rate,
            limits.max_candidate_error_rate,
            "R",
            f"at most this share of shadow runs whose candidate could not run the code{rate}",
        ),
        (
            "min-executions",
            _count,
            limits.min_executions,
            "N",
            "at least N executions (live, rampdown)",
        ),
        (
            "max-fallback-rate",
            _rate,
            limits.max_fallback_rate,
            "R",
            f"at most this share of executions fall back (live){rate}",
        ),
        (
            "max-never-compared-share",
            _rate,
            limits.max_never_compared_share,
            "R",
            f"at most this share of executions from nodes no comparison covers{rate}",
        ),
        (
            "max-shed-rate",
            _rate,
            limits.max_shed_rate,
            "R",
            f"at most this share of shadow runs shed for lack of capacity{rate}",
        ),
        ("min-hours", _hours, limits.min_hours, "H", "at least H hours from first to last event"),
    ]
    group = parser.add_argument_group("gate thresholds (defaults: docs/migration-runbook.md)")
    for name, kind, default, metavar, meaning in options:
        group.add_argument(
            f"--gate-{name}",
            type=kind,
            default=default,
            metavar=metavar,
            help=f"{meaning} (default {default:g})",
        )


_count = whole_number(0)


def _hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _rate(text: str) -> float:
    """A rate in 0..1, written as a fraction (`0.001`) or a percentage (`0.1%`)."""
    body = text.strip()
    scale = 100 if body.endswith("%") else 1
    try:
        value = Fraction(body.removesuffix("%").strip()) / scale
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a rate: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (0% and 100%): {text!r}")
    return float(value)


def handle_report(arguments: argparse.Namespace) -> int:
    """Print the report (exit 0), or say why the log cannot be read (exit 2)."""
    thresholds = Thresholds(
        min_comparisons=arguments.gate_min_comparisons,
        max_mismatch_rate=arguments.gate_max_mismatch_rate,
        max_infrastructure_error_rate=arguments.gate_max_infra_error_rate,
        max_candidate_error_rate=arguments.gate_max_candidate_error_rate,
        min_executions=arguments.gate_min_executions,
        max_fallback_rate=arguments.gate_max_fallback_rate,
        min_hours=arguments.gate_min_hours,
        max_never_compared_share=arguments.gate_max_never_compared_share,
        max_shed_rate=arguments.gate_max_shed_rate,
    )
    timeline = None
    try:
        if arguments.html is not None:
            from turnout.reports.html import check_html_target
            from turnout.reports.timeline import read_with_timeline

            check_html_target(arguments.html)
            report, timeline = read_with_timeline(
                arguments.logfile,
                environment=arguments.env,
                thresholds=thresholds,
                merge_configurations=arguments.merge_steps,
            )
        else:
            report = read_report(
                arguments.logfile,
                environment=arguments.env,
                thresholds=thresholds,
                merge_configurations=arguments.merge_steps,
            )
    except TurnoutError as refused:
        return print_error(refused, as_json=arguments.json)
    except (OSError, EOFError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        error = ValidationError("LOGFILE", f"cannot read {arguments.logfile!r}: {reason}")
        return print_error(error, as_json=arguments.json)
    if arguments.json:
        print_json(report.to_dict())
    else:
        sys.stdout.write(render_text(report))
    if timeline is not None:
        from turnout.reports.html.rollout import write_rollout_html

        sys.stderr.write(f"wrote {write_rollout_html(report, timeline, arguments.html)}\n")
    return 0
