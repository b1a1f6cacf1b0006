"""The HTML reports: one self-contained page per command, charts drawn by plotly.

markup.py   escaped-by-construction HTML (`tag`, `escape`)
charts.py   plotly: loading it (an optional extra), inlining plotly.js, safe chart specs
page.py     the shared page: title, verdict banner, key figures, tables, filters
parity.py   parity.html of `turnout conformance --report DIR` (and `turnout replay`)
rollout.py  `turnout rollout report --html FILE`

The pages of `turnout bench` and `turnout chaos` are drawn with the same helpers by the
developer tools (`turnout_devtools.html`, distribution turnout-devtools).

Only the modules that draw import plotly, and only when called, so `turnout` works (and
writes parity.json and parity.md) without the `reports` extra.
"""

from __future__ import annotations

import os
from pathlib import Path

from turnout.errors import ValidationError
from turnout.reports.html.charts import INSTALL_HINT, available, require_plotly
from turnout.reports.html.parity import write_parity_html

__all__ = [
    "INSTALL_HINT",
    "available",
    "check_html_target",
    "describe_html",
    "require_plotly",
    "write_parity_html",
]


def check_html_target(path: Path) -> None:
    """Before a command runs for minutes: fail now, with the fix, if `--html FILE` cannot
    be written (plotly missing: ConfigurationError; FILE a directory, or its directory not
    creatable or writable: ValidationError). Creates FILE's directory."""
    require_plotly()
    if path.is_dir():
        raise ValidationError("--html", f"{path} is a directory", "a file name such as report.html")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError("--html", f"cannot create {path.parent}: {exc.strerror}") from None
    if not os.access(path.parent, os.W_OK):
        raise ValidationError("--html", f"{path.parent} is not writable")


def describe_html(path: Path) -> str:
    """What the CLI says about an HTML report it was to write next to others: where it
    is, or that the reports extra is missing and how to install it."""
    if available():
        return f"wrote {path}"
    return f"{path.name} not written: the HTML reports need plotly ({INSTALL_HINT})"
