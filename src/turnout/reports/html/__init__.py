"""The HTML reports: one self-contained page per command, charts drawn by plotly.

markup.py   escaped-by-construction HTML (`tag`, `escape`)
charts.py   plotly: loading it (an optional extra), inlining plotly.js, safe chart specs
page.py     the shared page: title, verdict banner, key figures, tables, filters

Only the modules that draw import plotly, and only when called, so `turnout` works
without the `reports` extra.
"""

from __future__ import annotations

from turnout.reports.html.charts import INSTALL_HINT, available, require_plotly

__all__ = ["INSTALL_HINT", "available", "require_plotly"]
