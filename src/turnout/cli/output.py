"""How the CLI prints results and errors, as JSON or for a human."""

from __future__ import annotations

import json
import sys
from typing import Any

from turnout.errors import CodeExecutionError, TurnoutError, ValidationError

__all__ = ["exit_status", "print_error", "print_json"]


def print_json(data: Any) -> None:
    """Exactly one JSON document on stdout, newline-terminated."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


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
