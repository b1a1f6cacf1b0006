"""The bounds of a `turnout bench --json` report as a Markdown table (for docs/performance.md).

    .venv/bin/turnout bench --json > bench.json
    .venv/bin/python benchmarks/report_table.py bench.json

Prints one row per bound (value, limit, whether it held) and the run's machine line, so
the recorded table is the report's own figures, not a transcription.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _value(bound: dict[str, Any]) -> str:
    value = bound["value"]
    if value is None:
        return "n/a"
    unit = bound["unit"]
    return f"{value:.3f}{unit}" if unit == "x" else f"{value:g} {unit}"


FIGURES = (
    (
        "startup",
        ("ratio_backends_vs_python_p50",),
        "`turnout backends` / `python -c pass`, wall p50",
    ),
    (
        "startup",
        ("cpu_ratio_backends_vs_python_p50",),
        "`turnout backends` / `python -c pass`, CPU p50",
    ),
    ("startup", ("ratio_import_vs_python_p50",), "`import turnout` / `python -c pass`, wall p50"),
    ("local-python", ("ratio_p95",), "local-subprocess python overhead, p95 ratio"),
    ("local-javascript", ("ratio_p95",), "local-subprocess javascript overhead, p95 ratio"),
    (
        "e2b-overhead",
        ("create_delay_150ms", "ratio_vs_raw_without_kill_p50"),
        "e2b / raw create+run_code **without** its kill, p50 ratio (delay 150 ms)",
    ),
    (
        "e2b-overhead",
        ("create_delay_0ms", "ratio_vs_raw_without_kill_p50"),
        "e2b / raw create+run_code without its kill, p50 ratio (delay 0 ms)",
    ),
    ("kill", ("kill_delay_0ms", "saved_ms_p50"), "latency the background kill saves, p50 ms"),
    (
        "kill",
        ("kill_delay_300ms", "saved_ms_p50"),
        "latency the background kill saves with a 300 ms slow kill, p50 ms",
    ),
    ("pool", ("ratio_p95",), "warm pool / no pool, p95 ratio"),
    ("concurrency", ("concurrency_16", "ratio_to_last_result"), "throughput at 16, to last result"),
)
"""Figures beside the bounds: (section, path in its figures, label)."""


def _figure(report: dict[str, Any], section: str, path: tuple[str, ...]) -> Any:
    found: Any = (report["sections"].get(section) or {}).get("figures") or {}
    for key in path:
        if not isinstance(found, dict) or key not in found:
            return None
        found = found[key]
    return found


def table(report: dict[str, Any]) -> str:
    machine = report["machine"]
    load = machine.get("load_average")
    lines = [
        f"`turnout bench` ({report['mode']}), {report['started_at'][:16]} UTC, "
        f"{machine['cpus']} CPUs, Python {machine['python']}, load average at the end "
        f"{' / '.join(str(x) for x in load) if load else 'unknown'}, "
        f"{report['duration_s']:.0f} s.",
        "",
        "| bound | value | limit | held |",
        "|---|---:|---:|:---:|",
    ]
    for bound in report["bounds"]:
        limit = f"{bound['comparison']} {bound['limit']:g}"
        held = "yes" if bound["met"] else "**no**"
        lines.append(f"| {bound['name']} | {_value(bound)} | {limit} | {held} |")
    lines += ["", "| figure (no bound) | value |", "|---|---:|"]
    for section, path, label in FIGURES:
        value = _figure(report, section, path)
        if value is not None:
            lines.append(f"| {label} | {value:g} |")
    for note in report.get("notes") or ():
        lines += ["", f"Note from the run: {note}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        sys.stderr.write("usage: report_table.py REPORT.json\n")
        return 2
    report = json.loads(Path(arguments[0]).read_text(encoding="utf-8"))
    sys.stdout.write(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
