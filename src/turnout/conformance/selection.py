"""Which part of the conformance suite a run covered: only a whole run earns a verdict.

The verdict says whether the legacy backend can be deleted, and it is evidence only when
every case of the suite ran on every backend of the run. A run narrowed in any way (`--theme`,
`--case`, pytest's `-k`, `-m`, `--deselect` or node ids, a backend's items left out) is
*partial*: its report records the selection and says it is partial, and its verdict line
decides nothing. A selection that matches no case tested nothing, which the commands treat
as an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from turnout.conformance.runner import CaseResult

__all__ = ["Selection"]


@dataclass(frozen=True)
class Selection:
    """The filters a run was given, and how much of the suite it covered."""

    filters: tuple[str, ...]
    suite_cases: int
    cases_run: int
    cases_complete: int

    @classmethod
    def of(
        cls,
        *,
        filters: Iterable[str],
        suite: Sequence[str],
        backends: Sequence[str],
        results: Iterable[CaseResult],
    ) -> Selection:
        """The selection of a run of the suite (`suite`: every case id) on `backends`:
        `cases_run` cases have a result on some backend, `cases_complete` on all of them."""
        ran: dict[str, set[str]] = {}
        for result in results:
            ran.setdefault(result.case_id, set()).add(result.backend)
        wanted = set(backends)
        complete = sum(1 for case_id in suite if wanted <= ran.get(case_id, set()))
        return cls(tuple(filters), len(suite), len(ran), complete)

    @property
    def partial(self) -> bool:
        """True unless every case of the suite ran on every backend, unfiltered."""
        return bool(self.filters) or self.cases_complete < self.suite_cases

    @property
    def empty(self) -> bool:
        """True when the selection matched no case: the run tested nothing."""
        return self.cases_run == 0

    def describe(self, noun: str = "case") -> str:
        """`18 of 315 cases (--theme config)`: what the run covered, and why."""
        if self.cases_complete == self.cases_run:
            covered = f"{self.cases_run} of {self.suite_cases} {noun}s"
        else:
            covered = (
                f"{self.cases_run} of {self.suite_cases} {noun}s, {self.cases_complete} of "
                "them on every backend"
            )
        return covered + (f" ({' '.join(self.filters)})" if self.filters else "")

    def verdict_line(self, reference: str) -> str:
        """The verdict line of a partial or empty run: it decides nothing, and says so."""
        if self.empty:
            chosen = " ".join(self.filters) or "this run"
            return f"VERDICT: none: the selection ({chosen}) matches no case; nothing was tested"
        return (
            f"VERDICT: none: partial run, {self.describe()}; only a run of the whole suite on "
            f"{reference} and a target decides whether {reference} can be deleted"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "partial": self.partial,
            "filters": list(self.filters),
            "cases_in_suite": self.suite_cases,
            "cases_run": self.cases_run,
            "cases_on_every_backend": self.cases_complete,
        }
