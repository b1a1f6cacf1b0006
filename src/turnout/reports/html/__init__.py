"""The HTML reports: one self-contained page per command, charts drawn by plotly.

markup.py   escaped-by-construction HTML (`tag`, `escape`)
charts.py   plotly: loading it (an optional extra), inlining plotly.js, safe chart specs
page.py     the shared page: title, verdict banner, key figures, tables, filters
parity.py   parity.html of `turnout conformance --report DIR` (and `turnout replay`)

Only the modules that draw import plotly, and only when called, so `turnout` works (and
writes parity.json and parity.md) without the `reports` extra.
"""

from __future__ import annotations

from pathlib import Path

from turnout.reports.html.charts import INSTALL_HINT, available, require_plotly
from turnout.reports.html.parity import write_parity_html

__all__ = ["INSTALL_HINT", "available", "describe_html", "require_plotly", "write_parity_html"]


def describe_html(path: Path) -> str:
    """What the CLI says about an HTML report it was to write next to others: where it
    is, or that the reports extra is missing and how to install it."""
    if available():
        return f"wrote {path}"
    return f"{path.name} not written: the HTML reports need plotly ({INSTALL_HINT})"
