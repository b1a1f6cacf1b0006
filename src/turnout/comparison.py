"""Shadow comparison: are two outcomes of the same execution the same?

An outcome is an envelope or a turnout error. Envelopes are normalized first (timings, ids,
the backend's name and what the execution cost are removed: they differ by design); errors
compare by type, kind and message. Every remaining difference has a path (keys and indices
from the envelope's root, as ignore rules see it). Differences an ignore rule matches are
*ignored*, counted apart from real *mismatches*. The report never carries values, only
paths and the types found there, so a comparison event cannot leak user data into logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from turnout.errors import CodeExecutionError, TurnoutError

__all__ = ["VOLATILE_METADATA", "Comparison", "Difference", "compare_outcomes", "normalize_outcome"]

Outcome = dict[str, Any] | TurnoutError
Path = tuple[str | int, ...]
VOLATILE_METADATA = frozenset(
    {
        "executionTime",
        "executionId",
        "sandboxId",
        "backend",
        # What the execution cost (ExecutionResult.usage): only billed backends report it.
        "sandboxSeconds",
        "poolIdleSeconds",
        "costUsd",
    }
)


class PathMatcher(Protocol):
    def matches(self, path: Sequence[str | int]) -> bool: ...


@dataclass(frozen=True)
class Difference:
    """One place where the outcomes differ, described without its values."""

    path: Path
    kind: Literal["value", "type", "missing", "extra"]
    authoritative_type: str
    candidate_type: str

    def to_log(self) -> dict[str, str]:
        text = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return {
            "path": text,
            "difference": self.kind,
            "authoritative": self.authoritative_type,
            "candidate": self.candidate_type,
        }


@dataclass(frozen=True)
class Comparison:
    """The verdict: `match`, `ignored` (only ignored differences) or `mismatch`."""

    mismatches: list[Difference] = field(default_factory=list)
    ignored: list[Difference] = field(default_factory=list)

    @property
    def verdict(self) -> Literal["match", "ignored", "mismatch"]:
        if self.mismatches:
            return "mismatch"
        return "ignored" if self.ignored else "match"


def normalize_outcome(outcome: Outcome) -> dict[str, Any]:
    """The comparable part of an outcome."""
    if isinstance(outcome, TurnoutError):
        error: dict[str, Any] = {"type": type(outcome).__name__, "message": outcome.message}
        if isinstance(outcome, CodeExecutionError):
            error.update(kind=outcome.kind, line=outcome.line)
        return {"error": error}
    metadata = {k: v for k, v in outcome.get("metadata", {}).items() if k not in VOLATILE_METADATA}
    return {**outcome, "metadata": metadata}


def compare_outcomes(
    authoritative: Outcome, candidate: Outcome, ignore: Sequence[PathMatcher] = ()
) -> Comparison:
    """Compare two outcomes of one execution, sorting differences by the ignore rules."""
    differences: list[Difference] = []
    _diff(normalize_outcome(authoritative), normalize_outcome(candidate), (), differences)
    comparison = Comparison()
    for difference in differences:
        if any(rule.matches(difference.path) for rule in ignore):
            comparison.ignored.append(difference)
        else:
            comparison.mismatches.append(difference)
    return comparison


def _type(value: Any) -> str:
    return "absent" if value is _ABSENT else type(value).__name__


_ABSENT = object()


def _diff(a: Any, b: Any, path: Path, out: list[Difference]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            _diff(a.get(key, _ABSENT), b.get(key, _ABSENT), (*path, key), out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for index in range(max(len(a), len(b))):
            _diff(
                a[index] if index < len(a) else _ABSENT,
                b[index] if index < len(b) else _ABSENT,
                (*path, index),
                out,
            )
        return
    if a is _ABSENT or b is _ABSENT:
        if a is not b:
            out.append(Difference(path, "missing" if b is _ABSENT else "extra", _type(a), _type(b)))
        return
    if type(a) is not type(b) and not (_number(a) and _number(b)):
        out.append(Difference(path, "type", _type(a), _type(b)))
    elif a != b:
        out.append(Difference(path, "value", _type(a), _type(b)))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
