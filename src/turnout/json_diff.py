"""JSON values told to a person: where two values first differ, and a short rendering.

Reports (conformance expectations, the parity differential, replay) say what differs in
words a reader can act on: `output["items"][1]: expected 2, got 3`. Equality here is exact
and type-strict, as callers reading JSON see it (`3` is not `3.0`, `1` is not `true`);
what counts as the same envelope before that (timings, ids, clock readings) is
`turnout.normalization`'s to decide.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["abbreviate", "first_difference", "json_type_name", "same_json"]


def abbreviate(value: Any, limit: int = 80, *, quote: bool = True) -> str:
    """A short, single-line rendering of a value for reports (long strings show their size)."""
    if isinstance(value, str) and not quote:
        text = value.replace("\n", "\\n")
    else:
        try:
            text = json.dumps(value, ensure_ascii=True)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} chars)" if isinstance(value, str) else ""
    if isinstance(value, list | dict):
        size = f" ({len(value)} items)"
    return text[: limit - 1] + "…" + size


def json_type_name(value: Any) -> str:
    """The JSON name of a value's type (`integer`, `float`, `array`, ...), for messages."""
    return {
        type(None): "null",
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def same_json(expected: Any, actual: Any) -> bool:
    """Exact, type-strict equality of JSON values."""
    return first_difference(expected, actual) is None


def first_difference(
    expected: Any, actual: Any, path: str = "output", labels: tuple[str, str] = ("expected", "got")
) -> str | None:
    """Where two JSON values first differ, as `path: expected X, got Y` (None: identical).

    `labels` renames the two sides (a differential says which backend gave which)."""
    left, right = labels
    if type(expected) is not type(actual):
        return (
            f"{path}: {left} {abbreviate(expected)} ({json_type_name(expected)}), "
            f"{right} {abbreviate(actual)} ({json_type_name(actual)})"
        )
    if isinstance(expected, dict):
        if set(expected) != set(actual):
            only_left = sorted(set(expected) - set(actual))
            only_right = sorted(set(actual) - set(expected))
            return f"{path}: keys differ (only {left}: {only_left}, only {right}: {only_right})"
        for key in expected:
            found = first_difference(
                expected[key], actual[key], f"{path}[{json.dumps(key)}]", labels
            )
            if found:
                return found
        return None
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return f"{path}: {left} {len(expected)} items, {right} {len(actual)}" + _extra_items(
                expected, actual, labels
            )
        for index, (one, two) in enumerate(zip(expected, actual, strict=True)):
            found = first_difference(one, two, f"{path}[{index}]", labels)
            if found:
                return found
        return None
    if expected != actual:
        if isinstance(expected, str) and max(len(expected), len(actual)) > 60:
            at = next(
                (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
                min(len(expected), len(actual)),
            )
            return (
                f"{path}: strings differ at character {at} ({left} {len(expected)} chars, "
                f"{right} {len(actual)}): {left} {abbreviate(expected[at : at + 30])}, "
                f"{right} {abbreviate(actual[at : at + 30])}"
            )
        return f"{path}: {left} {abbreviate(expected)}, {right} {abbreviate(actual)}"
    return None


def _extra_items(expected: list[Any], actual: list[Any], labels: tuple[str, str]) -> str:
    """The items only one side has (`: only got: "E2B_API_KEY", "PATH"`), so that a list
    of leaked names or surviving processes is named, not merely counted."""
    parts = []
    for name, mine, theirs in ((labels[0], expected, actual), (labels[1], actual, expected)):
        unmatched = list(theirs)
        only = []
        for item in mine:
            match = next((i for i, other in enumerate(unmatched) if same_json(item, other)), None)
            if match is None:
                only.append(item)
            else:
                del unmatched[match]
        if only:
            shown = ", ".join(abbreviate(item, 60) for item in only[:8])
            more = f" (+{len(only) - 8} more)" if len(only) > 8 else ""
            parts.append(f"only {name}: {shown}{more}")
    return (": " + "; ".join(parts)) if parts else ""
