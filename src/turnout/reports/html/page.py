"""The page every HTML report shares: title, verdict banner, sections, charts, tables.

A report module builds a `Page` (adding charts with `page.chart(figure)`, which returns the
element that shows it) and writes it with `write_page`. The result is one file: the CSS,
the page's script, plotly.js and each chart's spec are inlined, so it opens anywhere with
no network. Text from the data reaches the page only through `markup` (escaped), and the
page's text and chart specs are scrubbed of secrets like every other report (the inlined
scripts are the library's and turnout's own code, left as they are).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from turnout.redaction import scrub_text
from turnout.reports.html.charts import figure_spec, plotly_js
from turnout.reports.html.markup import Child, Html, join, tag

__all__ = [
    "Banner",
    "Column",
    "Page",
    "chip",
    "figures",
    "filter_form",
    "render_page",
    "table",
    "write_page",
]

State = Literal["ok", "fail", "neutral"]


@dataclass(frozen=True)
class Banner:
    """The answer first: the verdict or gate state, coloured by `state`."""

    state: State
    heading: str
    detail: str = ""


@dataclass
class Page:
    """One report page; `sections` are already-built markup, in order."""

    title: str
    subtitle: str
    banner: Banner | None = None
    sections: list[Html] = field(default_factory=list)
    _specs: list[tuple[str, str]] = field(default_factory=list)

    def chart(self, figure: Any, *, height: int | None = None) -> Html:
        """Add a plotly figure; the element where it is drawn."""
        identifier = f"chart-{len(self._specs) + 1}"
        self._specs.append((identifier, figure_spec(figure)))
        style = f"height:{height}px" if height else None
        return tag(
            "div", class_="chart", id=identifier, data_chart=f"{identifier}-spec", style=style
        )

    def add(self, *children: Child) -> None:
        """Append markup (a section's heading, notes, tables and charts)."""
        self.sections.append(join(children))

    @property
    def chart_count(self) -> int:
        return len(self._specs)

    def spec_elements(self) -> Html:
        return join(
            Html(
                f'<script type="application/json" id="{identifier}-spec">'
                f"{scrub_text(spec)}</script>"
            )
            for identifier, spec in self._specs
        )


def _asset(name: str) -> str:
    return files("turnout.reports.html").joinpath(name).read_text(encoding="utf-8")


def render_page(page: Page) -> str:
    """The whole document as one string."""
    banner = None
    if page.banner is not None:
        banner = tag(
            "section",
            tag("div", page.banner.heading, class_="heading"),
            tag("div", page.banner.detail, class_="detail") if page.banner.detail else None,
            class_=f"banner {page.banner.state}",
            id="verdict",
        )
    scripts = Html(f"<script>{plotly_js()}</script>") if page.chart_count else Html("")
    body = Html(
        scrub_text(
            tag(
                "main",
                tag("header", tag("h1", page.title), tag("p", page.subtitle, class_="subtitle")),
                banner,
                page.sections,
                tag("footer", "Written by turnout; every chart and table is from the data above."),
            )
        )
    )
    return (
        "<!DOCTYPE html>\n"
        + tag(
            "html",
            tag(
                "head",
                Html('<meta charset="utf-8">'),
                Html('<meta name="viewport" content="width=device-width, initial-scale=1">'),
                tag("title", scrub_text(page.title)),
                Html(f"<style>{_asset('page.css')}</style>"),
            ),
            tag(
                "body",
                body,
                page.spec_elements(),
                scripts,
                Html(f"<script>{_asset('page.js')}</script>"),
            ),
            lang="en",
        )
        + "\n"
    )


def write_page(page: Page, path: Path) -> Path:
    """Write the page to `path` (its directory created if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(page), encoding="utf-8")
    return path


def chip(text: str, state: str) -> Html:
    """A small coloured label (`state`: ok, fail, error, skip, accepted, pass, ...)."""
    return tag("span", text, class_=f"chip {state}")


def figures(items: Iterable[tuple[str, Child, str]]) -> Html:
    """Key figures as cards: (name, value, state) with state "", "ok" or "fail"."""
    return tag(
        "div",
        [
            tag(
                "div",
                tag("div", value, class_="value"),
                tag("div", name, class_="name"),
                class_=f"figure {state}".strip(),
            )
            for name, value, state in items
        ],
        class_="figures",
    )


@dataclass(frozen=True)
class Column:
    """A table column: its heading and whether it holds numbers (right-aligned)."""

    heading: str
    numeric: bool = False


def table(
    columns: Sequence[Column | str],
    rows: Iterable[Sequence[Child]],
    *,
    identifier: str | None = None,
    row_attributes: Iterable[dict[str, str]] | None = None,
) -> Html:
    """A table in a scrolling frame with a sticky heading; `row_attributes` (one dict per
    row) become the rows' attributes (the filters read `data-*` ones)."""
    heads = [column if isinstance(column, Column) else Column(column) for column in columns]
    attributes = iter(row_attributes) if row_attributes is not None else None
    body = []
    for row in rows:
        extra = next(attributes) if attributes is not None else {}
        cells = [
            tag("td", cell, class_="num" if head.numeric else None)
            for head, cell in zip(heads, row, strict=True)
        ]
        body.append(tag("tr", cells, **extra))
    return tag(
        "div",
        tag(
            "table",
            tag(
                "thead",
                tag(
                    "tr", [tag("th", h.heading, class_="num" if h.numeric else None) for h in heads]
                ),
            ),
            tag("tbody", body),
            id=identifier,
        ),
        class_="table-wrap",
    )


def filter_form(table_id: str, selects: Sequence[tuple[str, str, Sequence[str]]]) -> Html:
    """Filters for the table `table_id`: a text search, and per (label, row attribute,
    choices) a select that keeps the rows whose attribute lists the chosen word."""
    controls: list[Html] = [
        tag("input", type="search", placeholder="search", data_filter="text", aria_label="search")
    ]
    for label_text, attribute, choices in selects:
        options = [tag("option", f"any {label_text}", value="")]
        options += [tag("option", choice, value=choice) for choice in choices]
        controls.append(
            tag("label", f"{label_text} ", tag("select", options, data_filter_attribute=attribute))
        )
    controls.append(tag("span", "", class_="count"))
    return tag("form", controls, class_="filters", data_filters_for=table_id)
