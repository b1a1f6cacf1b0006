"""parity.html: the conformance (or replay) report as a page.

Verdict first, then a heat map of themes by backend (pass, skipped, accepted divergence,
unexpected), the backends, each divergence with its reason, and the case table with
filters. Rendered from `ParityReport.to_dict()` (parity.json's content), so a field the
data lacks (an older report, a verdict state this page does not know) shows as what the
data says rather than breaking the page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turnout.redaction import scrub_data
from turnout.reports.html.charts import COLORS, base_layout, label, require_plotly
from turnout.reports.html.markup import Html, tag
from turnout.reports.html.page import Banner, Column, Page, chip, figures, filter_form, table
from turnout.reports.html.page import write_page as _write

if TYPE_CHECKING:
    from turnout.conformance.report import ParityReport

__all__ = ["FILE_NAME", "build_parity_page", "write_parity_html"]

FILE_NAME = "parity.html"
UNEXPECTED = ("fail", "error", "xpass")
# Heat map cell classes, worst last: the colour of a cell is its worst case's class.
CLASSES = ("pass", "skipped", "accepted divergence", "unexpected")
CLASS_COLORS = (COLORS["ok"], "#b0bec5", COLORS["accepted"], COLORS["fail"])


def write_parity_html(report: ParityReport, directory: Path) -> Path:
    """Write parity.html for `report` into `directory`."""
    return _write(build_parity_page(report.to_dict()), directory / FILE_NAME)


def cell_status(result: Mapping[str, Any]) -> str:
    """A result's status as the page names it: `accepted` for an accepted divergence
    (a listed failure, or a listed case the backend skips)."""
    status = str(result.get("status", "unknown"))
    if status == "xfail" or (status == "skip" and result.get("accepted_divergence")):
        return "accepted"
    return status


def _class_of(status: str) -> int:
    if status in UNEXPECTED or status not in ("pass", "skip", "accepted"):
        return 3
    return {"pass": 0, "skip": 1, "accepted": 2}[status]


def verdict_banner(
    verdict: Mapping[str, Any] | None, selection: Mapping[str, Any] | None = None
) -> Banner:
    """Green when the reference can be deleted, red when it cannot, grey when the run
    decided nothing (one backend, a filtered `selection`, an unknown state)."""
    if not verdict:
        return Banner("neutral", "No verdict", "this report carries no verdict")
    line = str(verdict.get("line") or "")
    detail = line.removeprefix("VERDICT: ")
    if selection is not None and selection.get("partial") is True:
        return Banner("neutral", "Partial run, no verdict", detail)
    if verdict.get("decided") is True and verdict.get("deletable") is True:
        return Banner("ok", "Verdict: the legacy backend can be deleted", detail)
    if verdict.get("decided") is True and verdict.get("deletable") is False:
        return Banner("fail", "Verdict: the legacy backend cannot be deleted yet", detail)
    return Banner("neutral", "No verdict", detail or "the run decided nothing")


def build_parity_page(raw: Mapping[str, Any]) -> Page:
    """The page for parity.json's content `raw` (scrubbed here)."""
    data: dict[str, Any] = scrub_data(dict(raw))
    kind = data.get("kind", "conformance")
    noun = "case" if kind == "conformance" else "node"
    backends = [b for b in data.get("backends") or [] if isinstance(b, dict)]
    ids = [str(b.get("id")) for b in backends]
    items = [item for item in data.get("items") or [] if isinstance(item, dict)]
    source = f", corpus {data['source']}" if data.get("source") else ""
    page = Page(
        title="Parity report" + (" (replay)" if kind == "replay" else ""),
        subtitle=f"turnout {kind}: {len(items)} {noun}s on {', '.join(ids) or 'no backend'}; "
        f"reference (legacy) backend {data.get('reference', '?')}{source}",
        banner=verdict_banner(data.get("verdict"), data.get("selection")),
    )
    page.add(_key_figures(items, ids, data.get("reference")))
    page.add(_heat_map(page, items, ids))
    page.add(_divergences(items, noun))
    page.add(_backends(backends))
    page.add(_cases(items, ids, noun))
    return page


def _key_figures(items: list[dict[str, Any]], ids: list[str], reference: Any) -> Html:
    statuses = Counter(
        cell_status(result)
        for item in items
        for result in (item.get("results") or {}).values()
        if isinstance(result, dict)
    )
    unexpected = sum(statuses[s] for s in UNEXPECTED)
    cards: list[tuple[str, Any, str]] = [
        ("results", sum(statuses.values()), ""),
        ("pass", statuses["pass"], "ok" if statuses["pass"] else ""),
        ("accepted divergences", statuses["accepted"], ""),
        ("skipped", statuses["skip"], ""),
        ("unexpected (fail, error, xpass)", unexpected, "fail" if unexpected else "ok"),
    ]
    return figures(cards)


def _heat_map(page: Page, items: list[dict[str, Any]], ids: list[str]) -> Html:
    go = require_plotly()
    themes = sorted({str(item.get("theme", "?")) for item in items})
    counts: dict[tuple[str, str], Counter[str]] = {}
    for item in items:
        for backend, result in (item.get("results") or {}).items():
            if isinstance(result, dict):
                key = (str(item.get("theme", "?")), str(backend))
                counts.setdefault(key, Counter())[cell_status(result)] += 1
    rows = [*themes, "all"]
    for backend in ids:
        counts[("all", backend)] = sum(
            (counts.get((theme, backend), Counter()) for theme in themes), Counter()
        )
    z, text = [], []
    for theme in rows:
        z_row, text_row = [], []
        for backend in ids:
            cell = counts.get((theme, backend), Counter())
            z_row.append(max((_class_of(s) for s in cell), default=None))
            ordered = sorted(cell.items(), key=lambda entry: (_class_of(entry[0]), entry[0]))
            text_row.append("<br>".join(f"{n} {label(s)}" for s, n in ordered))
        z.append(z_row)
        text.append(text_row)
    steps = len(CLASSES)
    scale = []
    for index, colour in enumerate(CLASS_COLORS):
        scale += [[index / steps, colour], [(index + 1) / steps, colour]]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[label(b) for b in ids],
            y=[label(t) for t in rows],
            text=text,
            texttemplate="%{text}",
            textfont={"size": 13},
            hovertemplate="%{y} on %{x}<br>%{text}<extra></extra>",
            colorscale=scale,
            zmin=-0.5,
            zmax=steps - 0.5,
            xgap=3,
            ygap=3,
            showscale=True,
            colorbar={
                "tickvals": list(range(steps)),
                "ticktext": list(CLASSES),
                "title": {"text": "worst result"},
            },
        )
    )
    figure.update_layout(
        base_layout(margin={"l": 110, "r": 20, "t": 30, "b": 30}),
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"side": "top", "type": "category"},
    )
    height = 90 + 46 * len(rows)
    return Html(
        tag("h2", "Themes by backend")
        + tag(
            "p",
            "Each cell counts the results of one theme on one backend; its colour is the "
            "worst of them: unexpected (fail, error, a listed divergence that passes) over "
            "accepted divergence over skipped over pass.",
            class_="note",
        )
        + page.chart(figure, height=height)
    )


def _reason(result: Mapping[str, Any]) -> str:
    status = cell_status(result)
    if status == "accepted":
        return str(result.get("accepted_divergence") or result.get("reason") or "")
    details = [str(p) for p in result.get("problems") or []] or [str(result.get("reason", ""))]
    details += [f"differential: {d}" for d in result.get("differences") or [] if d not in details]
    return "; ".join(d for d in details if d)


def _divergences(items: list[dict[str, Any]], noun: str) -> Html:
    """Unexpected results first (they block the verdict), then accepted divergences."""
    found = []
    for item in items:
        for backend, result in (item.get("results") or {}).items():
            status = cell_status(result) if isinstance(result, dict) else ""
            if status == "accepted" or status in UNEXPECTED:
                row = (
                    tag("code", item.get("id", "?")),
                    backend,
                    chip(status, status),
                    tag("span", _reason(result), class_="reason"),
                )
                found.append((status == "accepted", str(item.get("id")), str(backend), row))
    if not found:
        return Html(
            tag("h2", "Divergences") + tag("p", f"None: no {noun} diverged.", class_="note")
        )
    found.sort(key=lambda entry: entry[:3])
    intro = (
        f"Every {noun} where a backend diverged: unexpected results first (they block the "
        "verdict), then the accepted divergences of the ledger with the reason a person gave."
    )
    return Html(
        tag("h2", f"Divergences ({len(found)})")
        + tag("p", intro, class_="note")
        + table([noun, "backend", "status", "reason"], [entry[3] for entry in found])
    )


def _backends(backends: list[dict[str, Any]]) -> Html:
    rows = []
    for backend in backends:
        caps = backend.get("capabilities") or {}
        name = str(backend.get("id", "?")) + (" (deprecated)" if backend.get("deprecated") else "")
        if not backend.get("available", True):
            state = chip("unavailable", "fail")
            detail = str(backend.get("unavailable_reason") or "")
        else:
            state = chip("available", "ok")
            detail = ", ".join(
                f"{key}: {value}"
                for key, value in (
                    ("languages", ", ".join(caps.get("languages") or [])),
                    ("isolation", caps.get("isolation")),
                    ("network", "yes" if caps.get("network_access") else "no"),
                    ("memory limit", caps.get("memory_limit_mb")),
                )
                if value not in (None, "")
            )
        rows.append((name, state, backend.get("endpoint", ""), backend.get("plugin", ""), detail))
    return Html(
        tag("h2", "Backends")
        + table(["backend", "state", "endpoint", "plugin", "capabilities"], rows)
    )


def _cases(items: list[dict[str, Any]], ids: list[str], noun: str) -> Html:
    rows, attributes = [], []
    for item in items:
        results = item.get("results") or {}
        cells: list[Any] = [
            Html(
                tag("code", item.get("id", "?"))
                + tag("span", item.get("description", ""), class_="cell-reason")
            ),
            item.get("theme", ""),
        ]
        statuses = []
        for backend in ids:
            result = results.get(backend)
            if not isinstance(result, dict):
                cells.append("—")
                continue
            status = cell_status(result)
            statuses.append(status)
            reason = "" if status == "pass" else _reason(result)
            cells.append(Html(chip(status, status) + tag("span", reason, class_="cell-reason")))
        rows.append(cells)
        attributes.append(
            {
                "data-theme": str(item.get("theme", "")),
                "data-statuses": " ".join(sorted(set(statuses))),
            }
        )
    themes = sorted({str(item.get("theme", "")) for item in items})
    present = sorted({s for a in attributes for s in a["data-statuses"].split()})
    columns: list[Column | str] = [noun, "theme", *ids]
    return Html(
        tag("h2", f"{noun.capitalize()}s ({len(items)})")
        + filter_form(
            "cases", [("theme", "data-theme", themes), ("status", "data-statuses", present)]
        )
        + table(columns, rows, identifier="cases", row_attributes=attributes)
    )
