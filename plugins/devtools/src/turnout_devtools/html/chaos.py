"""The chaos page of `turnout chaos --html FILE`.

The four required properties first, then what the run did with the faults: the outcome
of the executions by the fault each one armed, faults queued and fired, a histogram of
call latencies, leaked sandboxes and the server's own problems, the errors by kind.
Rendered from `ChaosReport.to_dict()` (the `--json` output), records included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from turnout.redaction import scrub_data
from turnout.reports.html.charts import COLORS, SERIES, base_layout, label, require_plotly
from turnout.reports.html.markup import Html, join, tag
from turnout.reports.html.page import Banner, Column, Page, chip, figures, table, write_page
from turnout_devtools.chaos.report import ExecutionRecord

__all__ = ["build_chaos_page", "outcome_label", "write_chaos_html"]

NO_FAULT = "no fault"
OUTCOME_COLORS = {
    "ok": COLORS["ok"],
    "CodeExecutionError runtime": SERIES[0],
    "CodeExecutionError timeout": SERIES[4],
    "InfrastructureError (before)": COLORS["accepted"],
    "InfrastructureError (during the run)": SERIES[1],
    "hang": COLORS["fail"],
    "crash": COLORS["error"],
}


def write_chaos_html(report: Mapping[str, Any], path: Path) -> Path:
    """Write the chaos page of `report` (`ChaosReport.to_dict()`) to `path`."""
    return write_page(build_chaos_page(report), path)


def outcome_label(record: Mapping[str, Any]) -> str:
    """How the run's error table names this record's outcome (`ExecutionRecord.label`)."""
    try:
        return ExecutionRecord(**record).label
    except TypeError:  # a record of another version: its outcome is still readable
        return str(record.get("error_type") or record.get("outcome") or "?")


def build_chaos_page(raw: Mapping[str, Any]) -> Page:
    report: dict[str, Any] = scrub_data(dict(raw))
    records = [r for r in report.get("records") or [] if isinstance(r, dict)]
    violations: dict[str, list[str]] = report.get("violations") or {}
    properties: dict[str, bool] = report.get("properties") or {}
    if report.get("ok"):
        banner = Banner("ok", "All properties hold", ", ".join(properties))
    else:
        failed = [name for name, held in properties.items() if not held]
        banner = Banner("fail", "Properties violated", "; ".join(failed) or "see below")
    latency = report.get("latency_ms") or {}
    cap = report.get("max_sandboxes")
    page = Page(
        title="Chaos report",
        subtitle=f"turnout chaos against {report.get('server', '?')}: "
        f"{report.get('executions', '?')} executions at concurrency "
        f"{report.get('concurrency', '?')} (server max_sandboxes: {cap or 'none'}), faults "
        f"{report.get('faults', '?')} ({report.get('combined_fault_rate', 0):.0%} combined), "
        f"seed {report.get('seed', '?')}, {report.get('duration_s', '?')} s",
        banner=banner,
    )
    leaked = report.get("leaked_sandboxes", 0)
    page.add(
        figures(
            [
                ("executions", report.get("executions", "?"), ""),
                ("results", report.get("results", "?"), ""),
                ("errors", report.get("errors", "?"), ""),
                ("leaked sandboxes", leaked, "fail" if leaked else "ok"),
                ("peak live sandboxes", report.get("peak_live_sandboxes", "?"), ""),
                (
                    "latency p50 / p95",
                    f"{latency.get('p50', 0):.0f} / {latency.get('p95', 0):.0f} ms",
                    "",
                ),
                (
                    "run errors not explained",
                    report.get("unexplained_run_errors", 0),
                    "fail" if report.get("unexplained_run_errors") else "",
                ),
            ]
        )
    )
    page.add(_properties(properties, violations))
    page.add(_by_fault(page, records, report))
    page.add(_latency(page, records))
    page.add(_leaks(report, violations))
    page.add(_errors(report))
    return page


def _properties(properties: Mapping[str, bool], violations: Mapping[str, list[str]]) -> Html:
    rows = []
    for name, held in properties.items():
        found = violations.get(name) or []
        shown = [tag("div", problem, class_="cell-reason") for problem in found[:10]]
        if len(found) > 10:
            shown.append(tag("div", f"(+{len(found) - 10} more)", class_="cell-reason"))
        rows.append((name, chip("holds", "ok") if held else chip("violated", "fail"), join(shown)))
    return Html(tag("h2", "Required properties") + table(["property", "state", "violations"], rows))


def _colour(outcome: str, index: int) -> str:
    return OUTCOME_COLORS.get(outcome, SERIES[(index + 2) % len(SERIES)])


def _by_fault(page: Page, records: list[dict[str, Any]], report: Mapping[str, Any]) -> Html:
    go = require_plotly()
    counts: Counter[tuple[str, str]] = Counter(
        (str(r.get("fault") or NO_FAULT), outcome_label(r)) for r in records
    )
    faults = [NO_FAULT, *sorted({fault for fault, _ in counts} - {NO_FAULT})]
    armed_by = Counter(fault for fault, _ in counts.elements())
    names = [label(f"{fault} (n={armed_by[fault]})") for fault in faults]
    outcomes = sorted({outcome for _, outcome in counts}, key=lambda o: (o != "ok", o))
    figure = go.Figure(
        [
            go.Bar(
                y=names,
                x=[counts[(fault, outcome)] for fault in faults],
                text=[counts[(fault, outcome)] or "" for fault in faults],
                textposition="inside",
                name=label(outcome),
                orientation="h",
                marker_color=_colour(outcome, index),
                hovertemplate=f"{label(outcome)}: %{{text}}<extra>%{{y}}</extra>",
            )
            for index, outcome in enumerate(outcomes)
        ]
    )
    figure.update_layout(
        base_layout(
            barmode="stack",
            barnorm="percent",
            legend={"traceorder": "normal"},
            margin={"l": 170, "r": 20, "t": 60, "b": 50},
        ),
        xaxis={"title": {"text": "share of the executions that armed it (%)"}, "range": [0, 100]},
        yaxis={"autorange": "reversed"},
    )
    queued: Mapping[str, int] = report.get("faults_queued") or {}
    fired: Mapping[str, int] = report.get("faults_fired") or {}
    armed = Counter(str(r.get("fault")) for r in records if r.get("fault"))
    rows = [
        (kind, armed.get(kind, 0), queued.get(kind, 0), fired.get(kind, 0))
        for kind in sorted(set(queued) | set(fired) | set(armed))
    ]
    return Html(
        tag("h2", "Outcomes by fault")
        + tag(
            "p",
            "Each execution by the fault it armed and how it ended. A queued fault fires on "
            "the server's next matching call, which may be a concurrent execution's, so an "
            "error can land in another row than the fault that caused it.",
            class_="note",
        )
        + page.chart(figure, height=140 + 44 * len(faults))
        + table(
            [
                "fault",
                Column("armed by executions", True),
                Column("queued", True),
                Column("fired", True),
            ],
            rows,
        )
    )


def _latency(page: Page, records: list[dict[str, Any]]) -> Html:
    go = require_plotly()
    by_outcome: dict[str, list[float]] = {}
    for record in records:
        by_outcome.setdefault(outcome_label(record), []).append(float(record.get("wall_ms", 0.0)))
    outcomes = sorted(by_outcome, key=lambda o: (o != "ok", o))
    figure = go.Figure(
        [
            go.Histogram(
                x=by_outcome[outcome],
                name=label(outcome),
                marker_color=_colour(outcome, index),
                nbinsx=40,
            )
            for index, outcome in enumerate(outcomes)
        ]
    )
    figure.update_layout(
        base_layout(
            barmode="stack",
            legend={"traceorder": "normal"},
            margin={"l": 60, "r": 20, "t": 60, "b": 50},
        ),
        xaxis={"title": {"text": "call latency, ms (from the call to its result or error)"}},
        yaxis={"title": {"text": "executions"}},
    )
    return Html(
        tag("h2", "Latency")
        + tag(
            "p",
            "Every call's wall time, stacked by outcome. Nodes that time out have a 1.5 s "
            "timeout, the others 10 s; property 4 bounds each call at its timeout + 1 s "
            "from the moment its code started.",
            class_="note",
        )
        + page.chart(figure, height=380)
    )


def _leaks(report: Mapping[str, Any], violations: Mapping[str, list[str]]) -> Html:
    problems = violations.get("zero leaked sandboxes") or []
    count = report.get("leaked_sandboxes", 0)
    if not count and not problems:
        body = tag(
            "p",
            f"None: every sandbox was killed (peak {report.get('peak_live_sandboxes', '?')} "
            "alive at once) and the server stopped cleanly.",
            class_="note",
        )
    else:
        body = tag("ul", [tag("li", problem) for problem in problems], class_="plain")
    return Html(tag("h2", f"Leaked sandboxes ({count})") + body)


def _errors(report: Mapping[str, Any]) -> Html:
    kinds: Mapping[str, Mapping[str, int]] = report.get("errors_by_kind") or {}
    rows = [(kind, row.get("count", 0), row.get("retryable", 0)) for kind, row in kinds.items()]
    counters: Mapping[str, int] = report.get("server_counters") or {}
    rss = report.get("caller_rss_mb") or {}
    parts = [tag("h2", "Errors by kind")]
    if rows:
        parts.append(table(["error", Column("count", True), Column("retryable", True)], rows))
    else:
        parts.append(tag("p", "No execution ended in an error.", class_="note"))
    parts.append(
        tag(
            "p",
            f"Create retries {report.get('create_retries', 0)}, creates given up "
            f"{report.get('creates_given_up', 0)}; calls over timeout + 1 s counting sandbox "
            f"creation: {report.get('calls_over_timeout_including_create', 0)}; caller RSS "
            f"{rss.get('start', '?')} → {rss.get('peak', '?')} → {rss.get('end', '?')} MB.",
            class_="note",
        )
    )
    if counters:
        parts.append(tag("h3", "Server counters"))
        parts.append(table(["counter", Column("value", True)], sorted(counters.items())))
    return join(parts)
