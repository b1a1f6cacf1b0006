"""The bench page of `turnout bench --html FILE`.

Bounds first: each ratio (or figure) against its bound, met or missed, with the sample
size it stands on. Then one chart per section with its latency distributions side by side
(turnout and its raw baseline, the pool and no pool, ...). The bench keeps summaries, not
samples, so a distribution is drawn from them: a thin bar from the fastest to the slowest
run, a thick one from the median to the p95, a diamond at the mean. Rendered from the
report dict `run_bench()` returns (the `--json` output), so a saved report renders too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from turnout.redaction import scrub_data
from turnout.reports.html.charts import COLORS, SERIES, base_layout, label, require_plotly
from turnout.reports.html.markup import Html, join, tag
from turnout.reports.html.page import Banner, Column, Page, chip, figures, table, write_page

__all__ = ["build_bench_page", "sample_size", "summaries", "write_bench_html"]

_SUMMARY_KEYS = frozenset({"n", "p50", "p95", "min", "max"})
_WORD = re.compile(r"[a-z0-9-]+")
_NUMBER_UNIT = re.compile(r"^(\d+)([a-z]+)$")


def write_bench_html(report: Mapping[str, Any], path: Path) -> Path:
    """Write the bench page of `report` (what `run_bench()` returned) to `path`."""
    return write_page(build_bench_page(report), path)


def summaries(figures: Any, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every latency summary (a dict with n, p50, p95, min, max) in a section's figures,
    with its path (`create_delay_150ms / turnout_ms`); CPU times are left out."""
    if not isinstance(figures, dict):
        return
    for key, value in figures.items():
        if not isinstance(value, dict) or key == "cpu_ms":
            continue
        path = f"{prefix} / {key}" if prefix else str(key)
        if value.keys() >= _SUMMARY_KEYS:
            yield path, value
        else:
            yield from summaries(value, path)


def _words(text: str) -> set[str]:
    words: set[str] = set()
    for word in _WORD.findall(text.lower().replace("_", " ")):
        match = _NUMBER_UNIT.match(word)
        words.update(match.groups() if match else (word,))
    return words


def sample_size(bound: Mapping[str, Any], section: Mapping[str, Any]) -> str:
    """What the bound's value stands on, read from its section's figures: the runs per
    side, the phases of a throughput, or the executions; "-" when the figures say nothing.

    A section with several groups (one per create delay, concurrency or payload) is
    matched to the bound by the words of the group's key, which its name repeats."""
    figures = section.get("figures") if isinstance(section, dict) else None
    if not isinstance(figures, dict):
        return "-"
    groups = {
        k: v for k, v in figures.items() if isinstance(v, dict) and not v.keys() >= _SUMMARY_KEYS
    }
    named = _words(str(bound.get("name", "")))
    chosen: Any = figures
    for key, group in groups.items():
        if key != "cpu_ms" and _words(key) <= named:
            chosen = group
            break
    if isinstance(chosen, dict) and "phases_per_side" in chosen:
        return (
            f"{chosen['phases_per_side']} phases of {chosen['executions_per_phase']} "
            "executions per side"
        )
    if isinstance(chosen, dict) and isinstance(chosen.get("executions"), int):
        return f"{chosen['executions']} executions"
    sizes = sorted({int(s["n"]) for _, s in summaries(chosen)})
    if not sizes:
        return "-"
    shown = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
    return f"n={shown} per side"


def _value(bound: Mapping[str, Any]) -> str:
    value = bound.get("value")
    if value is None:
        return "-"
    unit = bound.get("unit", "x")
    return f"{value:.3f}x" if unit == "x" else f"{value:g} {unit}"


def _when(started_at: Any) -> str:
    """The start of the run to the minute, in UTC."""
    try:
        moment = datetime.fromisoformat(str(started_at))
    except ValueError:
        return str(started_at or "?")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def build_bench_page(raw: Mapping[str, Any]) -> Page:
    report: dict[str, Any] = scrub_data(dict(raw))
    machine = report.get("machine") or {}
    bounds = [b for b in report.get("bounds") or [] if isinstance(b, dict)]
    sections = report.get("sections") or {}
    missed = [b for b in bounds if not b.get("met")]
    if not bounds:
        banner = Banner("neutral", "No bound measured", "the sections run measured no bound")
    elif missed:
        banner = Banner(
            "fail",
            f"{len(missed)} of {len(bounds)} bounds missed",
            "; ".join(f"{b['name']}: {_value(b)} {b['comparison']} {b['limit']:g}" for b in missed),
        )
    else:
        banner = Banner("ok", f"Every bound met ({len(bounds)})", "")
    load = " ".join(str(v) for v in machine.get("load_average") or []) or "-"
    page = Page(
        title="Benchmark report",
        subtitle=f"turnout bench ({report.get('mode', '?')}), "
        f"started {_when(report.get('started_at'))}: "
        f"{machine.get('cpus', '?')} CPUs, Python {machine.get('python', '?')}, load {load}; "
        f"{report.get('duration_s', '?')} s",
        banner=banner,
    )
    page.add(
        figures(
            [
                (
                    "bounds met",
                    f"{len(bounds) - len(missed)} of {len(bounds)}",
                    "fail" if missed else "ok",
                ),
                ("sections", len(sections), ""),
                ("skipped sections", sum(1 for s in sections.values() if s.get("skipped")), ""),
            ]
        )
    )
    page.add(_bounds(page, bounds, sections))
    page.add(_distributions(page, sections))
    notes = report.get("notes") or []
    if notes:
        page.add(tag("h2", "Notes"), tag("ul", [tag("li", note) for note in notes], class_="plain"))
    return page


def _bounds(page: Page, bounds: list[dict[str, Any]], sections: Mapping[str, Any]) -> Html:
    go = require_plotly()
    rows = [
        (
            b.get("name", "?"),
            b.get("section", "?"),
            _value(b),
            f"{b.get('comparison', '')} {b.get('limit', 0):g}",
            sample_size(b, sections.get(str(b.get("section")), {})),
            chip("met", "met") if b.get("met") else chip("missed", "missed"),
        )
        for b in bounds
    ]
    ratios = [b for b in bounds if b.get("unit") == "x" and b.get("value") is not None]
    parts = [tag("h2", "Bounds")]
    if ratios:
        names = [label(b["name"]) for b in ratios]
        colours = [COLORS["ok"] if b.get("met") else COLORS["fail"] for b in ratios]
        figure = go.Figure(
            [
                go.Scatter(
                    x=[b["limit"] for b in ratios],
                    y=names,
                    mode="markers",
                    name="bound",
                    marker={
                        "symbol": "line-ns",
                        "size": 22,
                        "line": {"width": 3, "color": COLORS["neutral"]},
                    },
                    hovertemplate="bound %{x}<extra></extra>",
                ),
                go.Scatter(
                    x=[b["value"] for b in ratios],
                    y=names,
                    mode="markers",
                    name="measured ratio",
                    marker={"size": 12, "color": colours},
                    customdata=[
                        sample_size(b, sections.get(str(b.get("section")), {})) for b in ratios
                    ],
                    hovertemplate="%{x:.3f}x (%{customdata})<extra></extra>",
                ),
            ]
        )
        figure.add_vline(x=1, line={"color": "#b0bec5", "dash": "dot"})
        figure.update_layout(
            base_layout(margin={"l": 390, "r": 20, "t": 40, "b": 50}),
            xaxis={
                "title": {"text": "ratio (1 = the same as the baseline)"},
                "rangemode": "tozero",
            },
            yaxis={"autorange": "reversed"},
        )
        parts.append(
            tag(
                "p",
                "Each ratio (a green dot when met, red when missed) against its bound (the grey "
                "bar); a bound <= is met left of its bar, >= right of it.",
                class_="note",
            )
        )
        parts.append(page.chart(figure, height=110 + 34 * len(ratios)))
    parts.append(
        table(
            ["bound", "section", Column("value", True), Column("bound", True), "sample", "result"],
            rows,
        )
    )
    return join(parts)


def _distributions(page: Page, sections: Mapping[str, Any]) -> Html:
    go = require_plotly()
    parts = [
        tag("h2", "Latency distributions"),
        tag(
            "p",
            "Per section, each measured side: the thin bar spans the fastest to the slowest run, "
            "the thick bar the median to the p95, the diamond is the mean.",
            class_="note",
        ),
    ]
    for name, section in sections.items():
        if section.get("skipped"):
            parts.append(tag("h3", name))
            parts.append(tag("p", f"skipped: {section['skipped']}", class_="note"))
            continue
        found = list(summaries(section.get("figures")))
        if not found:
            continue
        names = [label(f"{path} (n={s['n']})") for path, s in found]
        figure = go.Figure(
            [
                go.Bar(
                    y=names,
                    x=[s["max"] - s["min"] for _, s in found],
                    base=[s["min"] for _, s in found],
                    orientation="h",
                    width=0.18,
                    marker_color="#b0bec5",
                    name="fastest to slowest",
                    hovertemplate="%{base:.1f} to %{x:.1f} ms wide<extra>range</extra>",
                ),
                go.Bar(
                    y=names,
                    x=[s["p95"] - s["p50"] for _, s in found],
                    base=[s["p50"] for _, s in found],
                    orientation="h",
                    width=0.55,
                    marker_color=SERIES[0],
                    name="median to p95",
                    customdata=[[s["p50"], s["p95"]] for _, s in found],
                    hovertemplate="p50 %{customdata[0]:.1f} ms, p95 %{customdata[1]:.1f} ms"
                    "<extra></extra>",
                ),
                go.Scatter(
                    y=names,
                    x=[s.get("mean") for _, s in found],
                    mode="markers",
                    marker={"symbol": "diamond", "size": 10, "color": SERIES[1]},
                    name="mean",
                    hovertemplate="mean %{x:.1f} ms<extra></extra>",
                ),
            ]
        )
        figure.update_layout(
            base_layout(barmode="overlay", margin={"l": 330, "r": 20, "t": 40, "b": 50}),
            xaxis={"title": {"text": "ms"}, "rangemode": "tozero"},
            yaxis={"autorange": "reversed"},
        )
        parts.append(tag("h3", f"{name} ({section.get('duration_s', '?')} s)"))
        parts.append(page.chart(figure, height=110 + 42 * len(found)))
    return join(parts)
