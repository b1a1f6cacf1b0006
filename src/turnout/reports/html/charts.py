"""The chart helper: plotly figures in, safe inline specs and plotly.js out.

Why plotly: its wheel is pure Python and ships plotly.js, so one inlined script draws every
chart of a page with no network at view time; figures are built as typed objects
(`plotly.graph_objects`) from the data, never as hand-made SVG. Plotly is an optional
dependency (the `reports` extra): `require_plotly()` raises a `ConfigurationError` that
says how to install it, and only code that draws imports it.

Strings from the data go into figures through `label()`: plotly.js reads a small subset of
HTML in labels, so they are escaped first (it shows `&lt;` as `<`, as text).
"""

from __future__ import annotations

import html
import importlib.util
import json
from functools import cache
from typing import Any

from turnout.errors import ConfigurationError

__all__ = [
    "COLORS",
    "INSTALL_HINT",
    "available",
    "base_layout",
    "figure_spec",
    "label",
    "plotly_js",
    "require_plotly",
]

INSTALL_HINT = "pip install 'turnout[reports]'"

COLORS = {
    "ok": "#2e7d32",
    "fail": "#c62828",
    "error": "#8e0000",
    "warn": "#ef8f00",
    "skip": "#9e9e9e",
    "accepted": "#f9a825",
    "xpass": "#6a1b9a",
    "neutral": "#546e7a",
    "limit": "#c62828",
}
"""Colours of the states every report shows (also used by page.css)."""

SERIES = ("#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#5d4037")
"""Colours of series that are not states (backends, stages), in order."""


def available() -> bool:
    """Whether plotly is installed (the HTML reports can be written)."""
    return importlib.util.find_spec("plotly") is not None


def require_plotly() -> Any:
    """`plotly.graph_objects`, or a ConfigurationError saying how to install it."""
    if not available():
        raise ConfigurationError(
            "the HTML reports draw their charts with plotly, which is not installed: "
            f"install turnout's reports extra ({INSTALL_HINT})"
        )
    import plotly.graph_objects as go

    return go


@cache
def plotly_js() -> str:
    """plotly.js as shipped in the plotly wheel, safe to inline in a `<script>` element."""
    require_plotly()
    from plotly.offline import get_plotlyjs

    source: str = get_plotlyjs()
    return source.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def label(text: object) -> str:
    """A string from the data, as plotly.js must receive it to show it as plain text."""
    return html.escape(str(text), quote=False)


def base_layout(**overrides: Any) -> dict[str, Any]:
    """The layout every chart shares: quiet fonts and margins, legend on top (a `legend`
    override is merged into it)."""
    layout: dict[str, Any] = {
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        "colorway": list(SERIES),
        "hoverlabel": {"namelength": -1},
    }
    legend = overrides.pop("legend", None)
    layout.update(overrides)
    if legend is not None:
        layout["legend"] = {**layout["legend"], **legend}
    return layout


def figure_spec(figure: Any) -> str:
    """The figure as JSON that is safe inside `<script type="application/json">`.

    `<`, `>` and `&` only occur inside JSON strings, where their `\\u` escapes mean the
    same, so no value from the data can close the element or open a comment.
    """
    spec = json.loads(figure.to_json())
    spec["config"] = {"displaylogo": False, "responsive": True}
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
