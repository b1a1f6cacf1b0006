"""How the CLI prints results and errors, as JSON or for a human.

Everything printed is scrubbed of secrets (`turnout.redaction`): documents as they are
printed, errors and envelopes when they are made (their user fields keep what the code
produced, less any known secret value).

Whatever a code node printed or returned reaches a terminal or a pipe through here, and it
may hold text the stream cannot encode (a lone surrogate such as `"\\ud800"`, or any
non-ASCII character on an ASCII terminal). Such text is escaped, never a crash: JSON falls
back to `\\uXXXX` escapes (still one valid JSON document), human text to backslash escapes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from turnout.errors import CodeExecutionError, TurnoutError, ValidationError
from turnout.redaction import scrub_data, scrub_envelope, scrub_text

__all__ = [
    "escape_unencodable_output",
    "exit_status",
    "print_envelope",
    "print_error",
    "print_json",
    "print_text",
]


def escape_unencodable_output() -> None:
    """Make stdout and stderr escape what their encoding cannot represent (the CLI calls
    this first; stderr already does so by default, stdout does not)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def print_json(data: Any, stream: TextIO | None = None) -> None:
    """Exactly one JSON document on stdout, newline-terminated, scrubbed of secrets."""
    _write_json(scrub_data(data), stream)


def print_envelope(envelope: Mapping[str, Any]) -> None:
    """A result envelope (or `{outputVariable: envelope}`) as the one JSON document."""
    if len(envelope) == 1 and "metadata" not in envelope:
        [(variable, inner)] = envelope.items()
        _write_json({variable: scrub_envelope(inner)[0]})
    else:
        _write_json(scrub_envelope(envelope)[0])


def print_text(text: str, stream: TextIO | None = None) -> None:
    """Text turnout wrote for a human (settings, summaries), scrubbed, on stdout."""
    (stream or sys.stdout).write(scrub_text(text))


def _write_json(data: Any, stream: TextIO | None = None) -> None:
    """Readable UTF-8 when the stream can encode every character, ASCII with `\\uXXXX`
    escapes when it cannot."""
    out = stream or sys.stdout
    text = json.dumps(data, ensure_ascii=False, indent=2)
    try:
        text.encode(out.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(data, ensure_ascii=True, indent=2)
    out.write(text + "\n")


def exit_status(error: TurnoutError) -> int:
    return 2 if isinstance(error, ValidationError) else 1


def print_error(error: TurnoutError, *, as_json: bool) -> int:
    if as_json:
        print_json({"error": error.to_dict()})
        return exit_status(error)
    lines = [
        f"error: {type(error).__name__}"
        + (f" ({error.kind})" if isinstance(error, CodeExecutionError) else "")
        + f": {error.message}"
    ]
    if isinstance(error, CodeExecutionError):
        if error.line is not None:
            lines.append(f"  at line {error.line} of the code")
        if error.traceback:
            lines.append(error.traceback.rstrip())
        for name, text in (("stdout", error.stdout), ("stderr", error.stderr)):
            if text:
                lines.append(f"--- {name} ---\n{text.rstrip()}")
    lines.append(f"retryable: {'yes' if error.retryable else 'no'}")
    sys.stderr.write("\n".join(lines) + "\n")
    return exit_status(error)
