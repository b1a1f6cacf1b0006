"""The chart helper: plotly specs safe to inline, plotly.js inlined, a missing extra named."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from turnout.errors import ConfigurationError
from turnout.reports.html import charts


def test_a_spec_cannot_close_its_script_element() -> None:
    """A `</script>` in the data is encoded inside the JSON, and decodes back to itself."""
    figure = go.Figure(go.Bar(x=["</script><script>alert(1)</script>"], y=[1]))
    spec = charts.figure_spec(figure)
    assert "<" not in spec
    assert ">" not in spec
    assert json.loads(spec)["data"][0]["x"] == ["</script><script>alert(1)</script>"]


def test_labels_are_escaped_for_plotly() -> None:
    """plotly.js reads tags in labels, so a label from the data is escaped first."""
    assert charts.label("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"


def test_the_inlined_library_cannot_end_its_script_element() -> None:
    """plotly.js, as inlined, holds no `</script` that would end its element early."""
    assert "</script" not in charts.plotly_js().lower()


def test_without_plotly_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where plotly is missing, drawing raises a ConfigurationError naming the extra."""
    monkeypatch.setattr(charts, "available", lambda: False)
    with pytest.raises(ConfigurationError, match=r"pip install 'turnout\[reports\]'"):
        charts.require_plotly()
