"""E2B `result` events from what a kernel displays, as E2B's code-interpreter shapes them.

Both kernels report a cell's displayed values (the last expression, `display()`) as a
`result` event: Jupyter mime types become the event's fields (`text/plain` is `text`,
`image/png` is `png`, ...), anything else goes to `extra`, and plain text loses one pair of
surrounding quotes, as E2B's does (`'hello'` is shown as `hello`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MIME_FIELDS", "result_event", "strip_quotes"]

# Jupyter mime type -> field of an E2B result event; anything else goes to `extra`.
MIME_FIELDS = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
    "e2b/data": "data",
    "e2b/chart": "chart",
}


def strip_quotes(text: str) -> str:
    """Remove one pair of surrounding quotes, as E2B does (`'hello'` -> `hello`)."""
    if text and (
        (text.startswith("'") and text.endswith("'"))
        or (text.startswith('"') and text.endswith('"'))
    ):
        return text[1:-1]
    return text


def result_event(data: Mapping[str, Any], *, is_main_result: bool) -> dict[str, Any]:
    """Turn a Jupyter mime bundle into an E2B `result` event."""
    event: dict[str, Any] = {"type": "result"}
    extra: dict[str, Any] = {}
    for mime, value in data.items():
        field = MIME_FIELDS.get(mime)
        if field is None:
            extra[mime] = value
        elif field == "text":
            event["text"] = strip_quotes(str(value))
        else:
            event[field] = value
    event["extra"] = extra
    event["is_main_result"] = is_main_result
    return event
