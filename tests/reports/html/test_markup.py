"""Escaped-by-construction HTML: text from the data never becomes markup."""

from __future__ import annotations

from turnout.reports.html.markup import Html, escape, join, tag


def test_text_children_are_escaped() -> None:
    """A string child is text: `<script>` comes out as `&lt;script&gt;`."""
    assert tag("td", "<script>x</script>") == "<td>&lt;script&gt;x&lt;/script&gt;</td>"


def test_attribute_values_are_escaped() -> None:
    """A quote in an attribute value cannot end the attribute."""
    assert tag("tr", data_theme='a" onclick="x') == '<tr data-theme="a&quot; onclick=&quot;x"></tr>'


def test_markup_children_are_kept() -> None:
    """Elements built by `tag` nest as they are, their text still escaped once."""
    assert tag("p", tag("code", "a<b"), " & c") == "<p><code>a&lt;b</code> &amp; c</p>"


def test_none_and_false_are_left_out() -> None:
    """A None or False child or attribute is omitted; True writes a bare attribute."""
    assert tag("input", None, hidden=True, value=None, checked=False) == "<input hidden>"
    assert join(["a", None, False, 1]) == "a1"


def test_escaping_is_idempotent_for_markup() -> None:
    """`escape` leaves `Html` alone, so nothing is escaped twice."""
    once = escape("<b>")
    assert isinstance(once, Html)
    assert escape(once) == "&lt;b&gt;"
