"""What a run concluded for each (case, backend) pair: its status, and how the differential
with the reference and the divergence ledger turn raw results into conclusions.

`conclude` applies, in order: the differential comparison with the reference backend (a
target that meets the expectations but differs from the reference fails), and the
divergence ledger (a listed failure is accepted; a listed pass fails the run: the entry is
stale).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from turnout.conformance.backends import DEFAULT_REFERENCE
from turnout.conformance.cases import Case
from turnout.conformance.differential import normalize
from turnout.conformance.expectations import Observation
from turnout.conformance.ledger import Ledger
from turnout.normalization import describe_differences

__all__ = ["UNEXPECTED", "CaseResult", "Status", "conclude"]

Status = Literal["pass", "fail", "skip", "error", "xfail", "xpass"]
#: Statuses that make a run fail: a broken expectation, an infrastructure error, or a
#: ledger entry that no longer describes a failure.
UNEXPECTED: frozenset[str] = frozenset({"fail", "error", "xpass"})


@dataclass(frozen=True)
class CaseResult:
    """How one case went on one backend.

    `raw_status` is what the run itself showed (pass, fail, skip, error); `status` is the
    conclusion after the differential and the ledger (adds xfail and xpass).
    """

    case_id: str
    theme: str
    backend: str
    status: Status
    reason: str = ""
    problems: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()
    raw_status: Status | None = None
    accepted: str | None = None
    wall_ms: float | None = None
    observation: Observation | None = field(default=None, compare=False, repr=False)

    @property
    def unexpected(self) -> bool:
        return self.status in UNEXPECTED

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.reason:
            data["reason"] = self.reason
        if self.problems:
            data["problems"] = list(self.problems)
        if self.differences:
            data["differences"] = list(self.differences)
        if self.accepted:
            data["accepted_divergence"] = self.accepted
        if self.wall_ms is not None:
            data["wall_ms"] = round(self.wall_ms)
        return data


def conclude(
    cases: Sequence[Case],
    results: Sequence[CaseResult],
    *,
    reference: str = DEFAULT_REFERENCE,
    ledger: Ledger | None = None,
) -> list[CaseResult]:
    """Apply the differential comparison with `reference`, then the ledger, to raw results.

    A target is held to the reference's envelope only where the reference meets the case's
    expectations: where the reference itself is wrong, differing from it is no fault, and
    the differences are kept for the report without changing the target's status."""
    book = ledger or Ledger()
    by_case = {case.id: case for case in cases}
    now = time.time()
    references = {
        r.case_id: r
        for r in results
        if r.backend == reference
        and r.observation is not None
        and (r.raw_status or r.status) == "pass"
    }
    concluded = []
    for result in results:
        raw = result.raw_status or result.status
        updated = replace(result, raw_status=raw)
        base = references.get(result.case_id)
        if (
            result.backend != reference
            and by_case[result.case_id].close_after_ms is None  # how it ends is the backend's
            and base is not None
            and base.observation is not None
            and result.observation is not None
        ):
            case = by_case[result.case_id]
            differences = describe_differences(
                normalize(base.observation, now=now),
                normalize(result.observation, now=now),
                ignore=case.differential_ignore,
                names=(reference, result.backend),
            )
            if differences:
                reason = f"differs from {reference}: {differences[0]}"
                updated = replace(
                    updated,
                    differences=tuple(differences),
                    status="fail" if raw == "pass" else raw,
                    raw_status="fail" if raw == "pass" else raw,
                    reason=reason if raw == "pass" else updated.reason,
                )
        entry = book.entry(result.case_id, result.backend)
        if entry is not None:
            if updated.status in ("fail", "error"):
                updated = replace(updated, status="xfail", accepted=entry.reason)
            elif updated.status == "skip":  # lacks a capability the case needs: accepted
                updated = replace(updated, accepted=entry.reason)
            elif updated.status == "pass":
                updated = replace(
                    updated,
                    status="xpass",
                    reason=f"passes, but the ledger ({book.source}) still lists it as a "
                    f"divergence decided {entry.decided}: remove the entry",
                    accepted=entry.reason,
                )
        concluded.append(updated)
    return concluded
