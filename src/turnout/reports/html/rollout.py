"""The rollout page of `turnout rollout report --html FILE`.

Gates first (every environment and stage, met or not and which check fails), then per
environment: the rates the gates bound, hour by hour, each against its limit; executions
and comparisons per hour (how much evidence each point stands on); each stage's runs per
backend; run latency and cost per backend. Rendered from `RolloutReport.to_dict()` (the
`--json` output) and the `RolloutTimeline` of the same log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from turnout.redaction import scrub_data
from turnout.reports.html.charts import COLORS, SERIES, base_layout, label, require_plotly
from turnout.reports.html.markup import Html, join, tag
from turnout.reports.html.page import Banner, Column, Page, chip, figures, table, write_page
from turnout.reports.timeline import RolloutTimeline
from turnout.rollout.render import describe_thresholds, percent
from turnout.rollout.report import RolloutReport
from turnout.rollout.stats import StageStats

__all__ = ["build_rollout_page", "write_rollout_html"]

STAGE_COLORS = {
    "off": "#90a4ae",
    "shadow": SERIES[0],
    "live": SERIES[1],
    "rampdown": SERIES[3],
    "complete": SERIES[2],
    "direct": SERIES[4],
}
LOG_TICKS = [m * 10**e for e in range(7) for m in (1, 2, 5)]
RATES: tuple[tuple[str, str, Callable[[StageStats], float | None]], ...] = (
    ("mismatch rate", "max_mismatch_rate", lambda s: s.mismatch_rate),
    ("candidate error rate", "max_candidate_error_rate", lambda s: s.candidate_error_rate),
    ("fallback rate", "max_fallback_rate", lambda s: s.fallback_rate),
    (
        "target infrastructure error rate",
        "max_infrastructure_error_rate",
        lambda s: s.target.infrastructure_error_rate if s.target else None,
    ),
)


def write_rollout_html(report: RolloutReport, timeline: RolloutTimeline, path: Path) -> Path:
    """Write the rollout page of `report` and `timeline` to `path`."""
    return write_page(build_rollout_page(report, timeline), path)


def build_rollout_page(report: RolloutReport, timeline: RolloutTimeline) -> Page:
    data: dict[str, Any] = scrub_data(report.to_dict())
    environments: dict[str, Any] = data["environments"]
    gates = [
        (environment, stage, values["gate"])
        for environment, found in environments.items()
        for stage, values in found["stages"].items()
    ]
    scope = f" (environment {data['environment']})" if data.get("environment") else ""
    page = Page(
        title="Rollout report" + scope,
        subtitle=f"{data['source']}: {data['lines']} lines, {data['events']} events counted, "
        f"{data['skipped']} skipped",
        banner=_banner(gates),
    )
    page.add(
        figures(
            [
                ("environments", len(environments), ""),
                ("events counted", data["events"], ""),
                ("lines skipped", data["skipped"], ""),
                ("gates met", sum(1 for *_, g in gates if g["met"] is True), ""),
                (
                    "gates not met",
                    sum(1 for *_, g in gates if g["met"] is False),
                    "fail" if any(g["met"] is False for *_, g in gates) else "ok",
                ),
            ]
        )
    )
    page.add(_gates_table(environments, describe_thresholds(report.thresholds)))
    for environment in sorted(environments):
        page.add(tag("h2", f"Environment {environment}"))
        page.add(_hourly(page, report, timeline, environment))
        page.add(_stages(environments[environment]["stages"]))
        page.add(_latency(page, timeline, environment))
        page.add(_costs(page, timeline, environment, data["costs"].get(environment)))
    if timeline.undated:
        page.add(
            tag(
                "p",
                f"{timeline.undated} events had no readable timestamp: counted in the gates, "
                "in no hour of the charts.",
                class_="note",
            )
        )
    return page


def _banner(gates: list[tuple[str, str, dict[str, Any]]]) -> Banner:
    failing = [(e, s, g) for e, s, g in gates if g["met"] is False]
    decided = [g for *_, g in gates if g["met"] is not None]
    if failing:
        parts = []
        for environment, stage, gate in failing:
            checks = ", ".join(c["name"] for c in gate["checks"] if not c["met"])
            parts.append(f"{environment}/{stage} to {gate['next']}: {checks}")
        return Banner("fail", f"{len(failing)} of {len(decided)} gates not met", "; ".join(parts))
    if decided:
        return Banner(
            "ok",
            f"Every gate the logs decide is met ({len(decided)})",
            "Conditions not in the logs (the conformance verdict) are listed with each gate.",
        )
    return Banner("neutral", "No gate decided by the logs", "no stage with a gate has events")


def _check_text(check: Mapping[str, Any]) -> str:
    name, value, limit = check["name"], check["value"], check["limit"]
    if name.endswith(("rate", "share")):
        shown, bound = percent(value), percent(limit)
    else:
        shown = (
            "-" if value is None else f"{value:g}" if float(value).is_integer() else f"{value:.2f}"
        )
        bound = f"{limit:g}"
    return f"{name} {shown} {check['comparison']} {bound}"


def _gates_table(environments: Mapping[str, Any], thresholds: str) -> Html:
    rows = []
    for environment in sorted(environments):
        for stage, values in environments[environment]["stages"].items():
            gate = values["gate"]
            state = {True: chip("met", "met"), False: chip("not met", "missed")}.get(
                gate["met"], chip("not from logs", "skip")
            )
            checks = join(
                tag(
                    "div",
                    chip("ok" if c["met"] else "fail", "ok" if c["met"] else "fail"),
                    " ",
                    _check_text(c),
                )
                for c in gate["checks"]
            )
            manual = join(
                tag("div", "also required: ", item, class_="cell-reason") for item in gate["manual"]
            )
            hours = values.get("hours")
            rows.append(
                (
                    environment,
                    stage,
                    values.get("target_backend") or "-",
                    "-" if hours is None else f"{hours:.1f} h",
                    gate["next"] or "(final)",
                    state,
                    Html(checks + manual),
                )
            )
    return Html(
        tag("h2", "Promotion gates")
        + tag("p", f"Thresholds: {thresholds} (see docs/migration-runbook.md).", class_="note")
        + table(["environment", "stage", "target", "observed", "gate to", "state", "checks"], rows)
    )


def _hourly(page: Page, report: RolloutReport, timeline: RolloutTimeline, environment: str) -> Html:
    go = require_plotly()
    from plotly.subplots import make_subplots

    hourly = timeline.hourly(environment)
    if not hourly:
        return tag("p", "No timestamped events: nothing to chart per hour.", class_="note")
    limits = report.thresholds.to_dict()
    titles = ["executions per hour", "comparisons per hour"] + [
        f"{name} (gate ≤ {percent(limits[key])})" for name, key, _ in RATES
    ]
    figure = make_subplots(rows=3, cols=2, subplot_titles=titles, vertical_spacing=0.12)
    hours = sorted({hour for series in hourly.values() for hour, _ in series})
    for stage, series in hourly.items():
        colour = STAGE_COLORS.get(stage, SERIES[5])
        x = [hour.isoformat() for hour, _ in series]
        common = {"legendgroup": stage, "marker_color": colour, "name": label(stage)}
        figure.add_trace(go.Bar(x=x, y=[s.executions for _, s in series], **common), 1, 1)
        figure.add_trace(
            go.Bar(x=x, y=[s.comparisons for _, s in series], showlegend=False, **common), 1, 2
        )
        for index, (name, _, rate) in enumerate(RATES):
            row, col = 2 + index // 2, 1 + index % 2
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=[rate(s) for _, s in series],
                    mode="lines+markers",
                    line={"color": colour},
                    showlegend=False,
                    hovertemplate=f"{label(stage)}: %{{y:.3%}} at %{{x}}<extra>{name}</extra>",
                    **common,
                ),
                row,
                col,
            )
    for index, (_, key, _) in enumerate(RATES):
        row, col = 2 + index // 2, 1 + index % 2
        figure.add_hline(
            y=limits[key],
            line={"color": COLORS["limit"], "dash": "dash", "width": 1.5},
            row=row,
            col=col,
        )
        figure.update_yaxes(tickformat=".2~%", rangemode="tozero", row=row, col=col)
    margin = timedelta(minutes=30)
    figure.update_xaxes(range=[(hours[0] - margin).isoformat(), (hours[-1] + margin).isoformat()])
    figure.update_layout(
        base_layout(barmode="stack", margin={"l": 60, "r": 20, "t": 60, "b": 40}),
        legend={"orientation": "h", "y": 1.08, "x": 0, "title": {"text": "stage "}},
    )
    span = f"{hours[0]:%Y-%m-%d %H:00} to {hours[-1]:%Y-%m-%d %H:00} UTC"
    return Html(
        tag("h3", "Per hour, against the gates")
        + tag(
            "p",
            f"{span}. Each rate is computed per hour exactly as its gate computes it over the "
            "whole stage; the dashed red line is the gate's limit. A rate over few runs is "
            "noisy: read it with the counts above it. A gap is an hour with nothing to rate.",
            class_="note",
        )
        + page.chart(figure, height=760)
    )


def _stages(stages: Mapping[str, Any]) -> Html:
    parts = [tag("h3", "Runs per backend, by stage")]
    for stage, values in stages.items():
        rows = []
        for backend, tally in values["backends"].items():
            rows.append(
                (
                    backend,
                    tally["runs"],
                    tally["shadow_runs"],
                    tally["ok"],
                    f"{tally['user_errors']} ({percent(tally['user_error_rate'])})",
                    f"{tally['infrastructure_errors']} "
                    f"({percent(tally['infrastructure_error_rate'])})",
                    tally["invalid"],
                )
            )
        summary = (
            f"{values['executions']} executions, {values['comparisons']} comparisons "
            f"({values['mismatches']} mismatch, {percent(values['mismatch_rate'])}), "
            f"{values['candidate_errors']} candidate errors "
            f"({percent(values['candidate_error_rate'])}), {values['fallbacks']} fallbacks, "
            f"{values['shed']} shed"
        )
        paths = values.get("top_mismatch_paths") or {}
        parts.append(tag("p", tag("strong", f"stage {stage}: "), summary, class_="note"))
        parts.append(
            table(
                [
                    "backend",
                    Column("runs", True),
                    Column("shadow", True),
                    Column("ok", True),
                    Column("user errors", True),
                    Column("infrastructure errors", True),
                    Column("invalid", True),
                ],
                rows,
            )
        )
        if paths:
            listed = ", ".join(f"{path} ({count})" for path, count in paths.items())
            parts.append(tag("p", "most mismatched paths: ", tag("code", listed), class_="note"))
    return join(parts)


def _latency(page: Page, timeline: RolloutTimeline, environment: str) -> Html:
    go = require_plotly()
    per_backend = timeline.latency.get(environment, {})
    if not per_backend:
        return tag("p", "No run reported its duration.", class_="note")
    figure = go.Figure()
    rows = []
    for index, (backend, counts) in enumerate(sorted(per_backend.items())):
        q = counts.quantile
        figure.add_trace(
            go.Box(
                y=[label(backend)],
                q1=[q(0.25)],
                median=[q(0.5)],
                q3=[q(0.75)],
                lowerfence=[q(0.0)],
                upperfence=[q(1.0)],
                name=label(backend),
                orientation="h",
                marker_color=SERIES[index % len(SERIES)],
                boxpoints=False,
            )
        )
        rows.append((backend, counts.runs, q(0.5), q(0.95), q(0.99), q(1.0)))
    figure.update_layout(
        base_layout(showlegend=False, margin={"l": 140, "r": 20, "t": 20, "b": 50}),
        xaxis={
            "type": "log",
            "title": {"text": "ms per run (log scale)"},
            "tickvals": LOG_TICKS,
            "ticktext": [f"{tick:g}" for tick in LOG_TICKS],
        },
    )
    return Html(
        tag("h3", "Latency per backend")
        + tag(
            "p",
            "Every run's duration as the engine logged it, whatever its role: the box spans "
            "the middle half of the runs, the whiskers the fastest and the slowest.",
            class_="note",
        )
        + page.chart(figure, height=110 + 60 * len(rows))
        + table(
            [
                "backend",
                Column("runs", True),
                Column("p50 ms", True),
                Column("p95 ms", True),
                Column("p99 ms", True),
                Column("max ms", True),
            ],
            rows,
        )
    )


def _costs(
    page: Page, timeline: RolloutTimeline, environment: str, totals: Mapping[str, Any] | None
) -> Html:
    go = require_plotly()
    per_backend = timeline.costs.get(environment, {})
    heading = tag("h3", "Cost per backend")
    if not per_backend:
        return Html(
            heading
            + tag(
                "p",
                "No run reported usage (local-subprocess reports none; e2b reports sandbox "
                "seconds and dollars).",
                class_="note",
            )
        )
    backends = sorted(per_backend)
    served = [per_backend[b].total.cost_usd - per_backend[b].shadow.cost_usd for b in backends]
    shadow = [per_backend[b].shadow.cost_usd for b in backends]
    names = [label(b) for b in backends]
    figure = go.Figure(
        [
            go.Bar(y=names, x=served, name="served runs", orientation="h", marker_color=SERIES[0]),
            go.Bar(y=names, x=shadow, name="shadow runs", orientation="h", marker_color=SERIES[1]),
        ]
    )
    figure.update_layout(
        base_layout(
            barmode="stack",
            legend={"traceorder": "normal"},
            margin={"l": 140, "r": 20, "t": 40, "b": 50},
        ),
        xaxis={"title": {"text": "US dollars"}, "tickprefix": "$"},
    )
    rows = [
        (
            backend,
            per_backend[backend].total.runs,
            f"${per_backend[backend].total.cost_usd:.4f}",
            f"${per_backend[backend].shadow.cost_usd:.4f}",
            f"{per_backend[backend].total.sandbox_seconds:.1f}",
            f"{per_backend[backend].total.pool_idle_seconds:.1f}",
        )
        for backend in backends
    ]
    parts = [
        heading,
        page.chart(figure, height=120 + 50 * len(backends)),
        table(
            [
                "backend",
                Column("runs with usage", True),
                Column("cost", True),
                Column("of which shadow", True),
                Column("sandbox-s", True),
                Column("pool idle s", True),
            ],
            rows,
        ),
    ]
    if totals:
        for title, key in (("tenants", "tenants"), ("workflows", "workflows")):
            ranked = list((totals.get(key) or {}).items())[:10]
            if ranked:
                parts.append(tag("p", tag("strong", f"Most expensive {title}"), class_="note"))
                parts.append(
                    table(
                        [
                            title[:-1],
                            Column("runs", True),
                            Column("cost", True),
                            Column("sandbox-s", True),
                        ],
                        [
                            (name, s["runs"], f"${s['cost_usd']:.4f}", s["sandbox_seconds"])
                            for name, s in ranked
                        ],
                    )
                )
    return join(parts)
