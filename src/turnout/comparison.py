"""Shadow comparison: are two outcomes of the same execution the same?

An outcome is an envelope or a turnout error. Both are normalized by
`turnout.normalization.normalize`, the one definition of "the same envelope" that the
conformance differential and replay use too: timings, ids, the backend's name and what the
execution cost are removed, temporary paths and readings of the current time masked.
Every remaining difference has a path (keys and indices from the envelope's root, as ignore
rules see it). Differences an ignore rule matches are *ignored*, counted apart from real
*mismatches*. The report never carries values, only paths and the types found there, so a
comparison event cannot leak user data into logs.

Only two outcomes of the code are compared. When a backend *could not run* it (an
`InfrastructureError`, a `ConfigurationError` such as a missing key, or an `InternalError`,
a bug), there is nothing to compare, and that says nothing about parity: the verdict is
`candidate_error` (the candidate could not run, whatever the authoritative backend did) or
`authoritative_error` (the authoritative backend could not run, the candidate did). The
user's code failing (`CodeExecutionError`) and a refused input (`ValidationError`, such as
a timeout above the candidate's maximum) are outcomes, and are compared.

The shim passes the moment of the comparison as `now`, against which clock readings are
recognised; without it they are compared as they are (the audit's `--run` uses that to see
whether two runs of a node differ in time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from turnout.errors import (
    ConfigurationError,
    InfrastructureError,
    InternalError,
    TurnoutError,
)
from turnout.log_events import VERDICTS, Verdict
from turnout.normalization import Difference, differing_paths, normalize

__all__ = [
    "VERDICTS",
    "Comparison",
    "Difference",
    "Verdict",
    "compare_outcomes",
    "could_not_run",
    "normalize_outcome",
]

Outcome = dict[str, Any] | TurnoutError


class PathMatcher(Protocol):
    def matches(self, path: Sequence[str | int]) -> bool: ...


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
    """The comparable part of an outcome (`turnout.normalization.normalize`)."""
    return normalize(outcome, now=now)


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
    kind."""
    if could_not_run(candidate):
        return Comparison(not_run="candidate")
    if could_not_run(authoritative):
        return Comparison(not_run="authoritative")
    differences = differing_paths(normalize(authoritative, now=now), normalize(candidate, now=now))
    comparison = Comparison()
    for difference in differences:
        if any(rule.matches(difference.path) for rule in ignore):
            comparison.ignored.append(difference)
        elif any(rule.matches(difference.path) for rule in accepted):
            comparison.accepted.append(difference)
        else:
            comparison.mismatches.append(difference)
    return comparison
