"""Read what a backend observed back into an output value or one classified error.

Order of evidence: an outcome file written by the runtime is the truth (the code finished,
well or badly); without one, the backend's termination says why (timeout, memory, killed);
a program that simply exited without an outcome crashed in a way the runtime could not
catch (for example `os._exit`), which is a runtime error of the user's code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast, get_args

from turnout.envelope import OutputChannel
from turnout.errors import CodeExecutionError, ErrorKind, InfrastructureError
from turnout.models import ExecutionResult, Language

__all__ = ["DecodedOutput", "OutputChannel", "decode_result"]

_KINDS: frozenset[str] = frozenset(get_args(ErrorKind))


@dataclass(frozen=True)
class DecodedOutput:
    """The node's output value and the channel it came through (return, result, last, none)."""

    value: Any
    channel: OutputChannel


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _timeout_message(timeout_ms: int) -> str:
    """What a timeout error says; under a second, also the likely unit mistake (an editor
    that saves seconds stores `30` for 30 s, which turnout reads as 30 ms)."""
    message = f"the code did not finish within its timeout of {timeout_ms} ms"
    if timeout_ms < 1000:
        message += (
            f"; timeout is in milliseconds: if {timeout_ms} was meant as seconds, "
            f"store {timeout_ms * 1000}"
        )
    return message


def _well_formed(outcome: object) -> bool:
    if not isinstance(outcome, dict) or not isinstance(outcome.get("ok"), bool):
        return False
    if outcome["ok"]:
        return outcome.get("channel") in ("return", "result", "last", "none")
    return True


def decode_result(
    result: ExecutionResult,
    *,
    language: Language,
    timeout_ms: int,
    max_result_bytes: int,
    backend: str,
) -> DecodedOutput:
    """Return the output, or raise the one error that describes how the execution failed."""

    def failure(kind: ErrorKind, message: str, **details: Any) -> CodeExecutionError:
        return CodeExecutionError(
            kind, message, stdout=result.stdout, stderr=result.stderr, language=language, **details
        )

    if result.result_too_large:
        raise failure(
            "output_too_large",
            f"the output is larger than this backend's limit of {max_result_bytes} "
            "bytes; return less data or write it somewhere and return a reference",
        )
    if result.result is not None:
        try:
            outcome = json.loads(result.result, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise failure("runtime", f"the code corrupted turnout's result file ({exc})") from None
        if not _well_formed(outcome):
            raise failure(
                "runtime",
                "the code overwrote turnout's result file with something that is not an outcome",
            )
        if outcome["ok"] is True:
            return DecodedOutput(outcome.get("value"), cast(OutputChannel, outcome["channel"]))
        kind = outcome.get("kind")
        name, message = outcome.get("name"), str(outcome.get("message", ""))
        raise failure(
            cast(ErrorKind, kind if kind in _KINDS else "runtime"),
            f"{name}: {message}" if name else message,
            name=name,
            line=outcome.get("line"),
            traceback=outcome.get("traceback"),
        )
    if result.termination == "timeout":
        raise failure("timeout", _timeout_message(timeout_ms))
    if result.termination == "memory":
        raise failure("memory", "the code exceeded the memory limit and was stopped")
    if result.termination == "killed":
        raise InfrastructureError(
            f"the {backend} sandbox was ended from outside while the code ran",
            retryable=True,
            started=True,
            backend=backend,
        )
    raise failure(
        "runtime",
        f"the code ended the process (exit code {result.exit_code}) "
        "before it could produce a result",
    )
