"""Shadow comparison: are two outcomes of the same execution the same?

An outcome is an envelope or a turnout error. Envelopes are normalized first (timings, ids,
the backend's name and what the execution cost are removed: they differ by design); errors
compare by type, kind and message. Every remaining difference has a path (keys and indices
from the envelope's root, as ignore rules see it). Differences an ignore rule matches are
*ignored*, counted apart from real *mismatches*. The report never carries values, only
paths and the types found there, so a comparison event cannot leak user data into logs.

Only two outcomes of the code are compared. When a backend *could not run* it (an
`InfrastructureError`, a `ConfigurationError` such as a missing key, or an `InternalError`,
a bug), there is nothing to compare, and that says nothing about parity: the verdict is
`candidate_error` (the candidate could not run, whatever the authoritative backend did) or
`authoritative_error` (the authoritative backend could not run, the candidate did). The
user's code failing (`CodeExecutionError`) and a refused input (`ValidationError`, such as
a timeout above the candidate's maximum) are outcomes, and are compared.

Readings of the current time are masked as the conformance differential and replay mask
them (`turnout.timemask.mask_time`: ISO dates and date-times, epoch seconds to
nanoseconds within a day of `now`, whole or inside a longer string): two runs of
`Date.now()` never share a clock reading, and that is no divergence. The shim passes the
moment of the comparison; without `now`, values are compared as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    InfrastructureError,
    InternalError,
    TurnoutError,
)
from turnout.timemask import mask_time

__all__ = [
    "VERDICTS",
    "VOLATILE_METADATA",
    "Comparison",
    "Difference",
    "Verdict",
    "compare_outcomes",
    "could_not_run",
    "normalize_outcome",
]

Outcome = dict[str, Any] | TurnoutError
Verdict = Literal["match", "ignored", "mismatch", "candidate_error", "authoritative_error"]
VERDICTS: tuple[Verdict, ...] = (
    "match",
    "ignored",
    "mismatch",
    "candidate_error",
    "authoritative_error",
)
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
    """The verdict: `match`, `ignored` (only ignored differences), `mismatch`, or, when a
    side could not run the code (`not_run`), `candidate_error` or `authoritative_error`."""

    mismatches: list[Difference] = field(default_factory=list)
    ignored: list[Difference] = field(default_factory=list)
    not_run: Literal["candidate", "authoritative"] | None = None
    accepted: list[Difference] = field(default_factory=list)
    """Differences an accepted divergence (the production ledger) covers: no mismatch."""

    @property
    def verdict(self) -> Verdict:
        if self.not_run is not None:
            return "candidate_error" if self.not_run == "candidate" else "authoritative_error"
        if self.mismatches:
            return "mismatch"
        return "ignored" if self.ignored or self.accepted else "match"


def could_not_run(outcome: Outcome) -> bool:
    """Whether a backend failed to run the code at all (infrastructure, configuration, or a
    bug in turnout), as opposed to giving a result or the user's code failing."""
    return isinstance(outcome, InfrastructureError | ConfigurationError | InternalError)


def normalize_outcome(outcome: Outcome, *, now: float | None = None) -> dict[str, Any]:
    """The comparable part of an outcome; with `now`, current-time readings masked."""
    normalized: dict[str, Any]
    if isinstance(outcome, TurnoutError):
        error: dict[str, Any] = {"type": type(outcome).__name__, "message": outcome.message}
        if isinstance(outcome, CodeExecutionError):
            error.update(kind=outcome.kind, line=outcome.line)
        normalized = {"error": error}
    else:
        metadata = {
            k: v for k, v in outcome.get("metadata", {}).items() if k not in VOLATILE_METADATA
        }
        normalized = {**outcome, "metadata": metadata}
    return normalized if now is None else mask_time(normalized, now)


def compare_outcomes(
    authoritative: Outcome,
    candidate: Outcome,
    ignore: Sequence[PathMatcher] = (),
    *,
    accepted: Sequence[PathMatcher] = (),
    now: float | None = None,
) -> Comparison:
    """Compare two outcomes of one execution, sorting differences by the ignore rules
    and the `accepted` divergences; with `now`, readings of the current time compare by
    kind (module docstring)."""
    if could_not_run(candidate):
        return Comparison(not_run="candidate")
    if could_not_run(authoritative):
        return Comparison(not_run="authoritative")
    differences: list[Difference] = []
    _diff(
        normalize_outcome(authoritative, now=now),
        normalize_outcome(candidate, now=now),
        (),
        differences,
    )
    comparison = Comparison()
    for difference in differences:
        if any(rule.matches(difference.path) for rule in ignore):
            comparison.ignored.append(difference)
        elif any(rule.matches(difference.path) for rule in accepted):
            comparison.accepted.append(difference)
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
