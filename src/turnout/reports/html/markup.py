"""Safe HTML by construction: every string that is not already `Html` is escaped.

Why not string formatting: the reports quote node ids, error messages and outputs, any of
which may hold `<script>`; building pages only through `tag()` and `escape()` means a
string from the data can never become markup, whoever writes the next report.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

__all__ = ["Child", "Html", "escape", "join", "tag"]


class Html(str):
    """Markup that is safe to emit as it is (built by `tag`, `escape` or `join`)."""

    __slots__ = ()


Child = Html | str | int | float | None | Iterable["Child"]

_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "col"})


def escape(value: object) -> Html:
    """`value` as text in HTML (quotes escaped too, so it is safe in an attribute)."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def join(children: Iterable[Child]) -> Html:
    """The children one after another; strings escaped, None and False left out."""
    parts: list[str] = []
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, str | int | float):
            parts.append(escape(child))
        else:
            parts.append(join(child))
    return Html("".join(parts))


def _attribute_name(name: str) -> str:
    """`class_` -> `class`, `data_case_id` -> `data-case-id`."""
    return name.rstrip("_").replace("_", "-")


def tag(name: str, *children: Child, **attributes: str | int | float | bool | None) -> Html:
    """`<name attributes>children</name>`: attribute values and text children escaped;
    an attribute that is None or False is left out, True is written bare."""
    written = []
    for key, value in attributes.items():
        if value is None or value is False:
            continue
        attribute = _attribute_name(key)
        written.append(attribute if value is True else f'{attribute}="{escape(value)}"')
    opening = "<" + " ".join([name, *written]) + ">"
    if name in _VOID:
        return Html(opening)
    return Html(f"{opening}{join(children)}</{name}>")
