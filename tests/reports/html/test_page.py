"""The shared page: one self-contained file, verdict first, text and specs scrubbed."""

from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go

from turnout.reports.html.page import Banner, Page, filter_form, render_page, table, write_page

KEY = "e2b_" + "0123456789abcdef" * 3


def a_page() -> Page:
    page = Page("Title", "subtitle", Banner("fail", "Verdict heading", "why"))
    page.add(page.chart(go.Figure(go.Bar(x=["a"], y=[1]))))
    return page


def test_the_page_needs_nothing_from_the_network(tmp_path: Path) -> None:
    """No script, style or image is loaded from elsewhere: plotly.js and the page's own
    script and style are inline."""
    text = write_page(a_page(), tmp_path / "page.html").read_text(encoding="utf-8")
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=""", text)
    assert "Plotly.newPlot" in text
    assert "data-charts-rendered" in text
    assert len(text) > 1_000_000  # plotly.js itself


def test_a_page_without_charts_leaves_plotly_out() -> None:
    """Only a page with charts carries the 4.8 MB library."""
    assert len(render_page(Page("Title", "subtitle"))) < 100_000


def test_the_banner_comes_before_the_sections() -> None:
    """The verdict is the first thing under the title."""
    text = render_page(a_page())
    assert text.index('id="verdict"') < text.index('class="chart"')
    assert 'class="banner fail"' in text


def test_secrets_in_text_and_chart_data_are_redacted() -> None:
    """A key-shaped value in a table or a chart label is scrubbed like in every report."""
    page = Page("Title", "subtitle")
    page.add(table(["value"], [[KEY]]))
    page.add(page.chart(go.Figure(go.Bar(x=[KEY], y=[1]))))
    text = render_page(page)
    assert KEY not in text
    assert "[redacted]" in text


def test_filters_name_their_table_and_attributes() -> None:
    """The filter form points at its table and offers each choice once."""
    form = filter_form("cases", [("status", "data-statuses", ["fail", "pass"])])
    assert 'data-filters-for="cases"' in form
    assert 'data-filter-attribute="data-statuses"' in form
    assert form.count("<option") == 3
