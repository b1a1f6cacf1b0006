"""The hunt: the suite run against each mutant until a case catches it, for every mutant.

A mutant is caught when one case fails or errors on it *and passes on the reference*: a
case that fails on the reference too proves nothing about the mutant. The hunt is built to
be quick: every mutant runs concurrently with the others; each first tries the cases its
class names (`tries_first`), then, only if those did not catch it, the rest of the suite,
cheap cases first; a mutant's run stops at its first catch (the cases still running are
cancelled, which makes the reference kill what they run). Cases that look at this host's
whole process tree (closing a backend) run one at a time, with nothing else in flight.

Afterwards, everything a mutant left running is ended: its leftover work is cancelled, its
reference closed, and any process still carrying one of the run's markers is killed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from turnout.conformance.backends import BackendUnderTest
from turnout.conformance.cases import Case
from turnout.conformance.results import CaseResult
from turnout.conformance.runner import ConformanceRunner
from turnout.conformance.survivors import kill_carriers

__all__ = ["Catch", "Hunt", "MutantReport", "Plan"]

CAUGHT = frozenset({"fail", "error"})


@dataclass(frozen=True)
class Catch:
    """How the hunt for one mutant ended: the case that caught it (None: nothing did), why,
    and how long it took; `void` says why a catch does not count."""

    mutant: str
    rule: str
    case_id: str | None
    reason: str
    seconds: float
    void: str | None = None

    @property
    def caught(self) -> bool:
        return self.case_id is not None and self.void is None

    def line(self) -> str:
        head = f"{self.mutant} (breaks: {self.rule}): "
        if self.case_id is None:
            return head + f"NOT CAUGHT by any case ({self.reason})"
        found = f"caught by {self.case_id} after {self.seconds:.1f} s: {self.reason}"
        if self.void is not None:
            return head + f"NOT CAUGHT: {found}; but {self.void}"
        return head + found

    def to_dict(self) -> dict[str, Any]:
        return {
            "mutant": self.mutant,
            "rule": self.rule,
            "caught": self.caught,
            "case": self.case_id,
            "reason": self.reason,
            "seconds": round(self.seconds, 1),
            "void": self.void,
        }


@dataclass(frozen=True)
class MutantReport:
    """Every mutant's catch, and the run's wall time."""

    reference: str
    catches: tuple[Catch, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return bool(self.catches) and all(catch.caught for catch in self.catches)

    def summary(self) -> str:
        caught = sum(1 for catch in self.catches if catch.caught)
        verdict = "every mutant is caught" if self.ok else "SOME MUTANTS ARE NOT CAUGHT"
        return (
            f"MUTANTS: {caught} of {len(self.catches)} caught in {self.seconds:.0f} s "
            f"(mutants of {self.reference}): {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "ok": self.ok,
            "seconds": round(self.seconds, 1),
            "mutants": [catch.to_dict() for catch in self.catches],
        }


@dataclass(frozen=True)
class Plan:
    """One mutant's hunt: the rule it breaks, the cases it tries first, and a text that one
    of the catching case's problems must contain (empty: any failure counts)."""

    rule: str
    first: Sequence[str] = ()
    shows: str = ""


def _unshown(result: CaseResult, shows: str) -> str | None:
    """Why a catch does not count: it failed without showing the broken rule."""
    problems = result.problems or (result.reason,)
    if not shows or any(shows in problem for problem in problems):
        return None
    return f"none of its problems mentions {shows!r}, so it failed for another reason"


def _cost(case: Case) -> tuple[bool, bool, int]:
    """An order of the suite, cheap cases first: slow ones last, waits for a timeout later."""
    heavy = case.theme in ("security", "size", "memory")
    return (case.slow, heavy, case.expect.min_wall_ms or case.expect.max_wall_ms or 0)


class Hunt:
    """Hunts mutants with one runner (whose backends include the mutants and the reference)."""

    def __init__(
        self,
        runner: ConformanceRunner,
        cases: Sequence[Case],
        *,
        on_catch: Callable[[str, CaseResult], None] | None = None,
    ) -> None:
        self.runner = runner
        self.cases = list(cases)
        self.on_catch = on_catch
        self._caught: dict[str, tuple[CaseResult, float]] = {}
        self._started = time.perf_counter()

    async def run(
        self, mutants: Sequence[BackendUnderTest], plans: Mapping[str, Plan]
    ) -> list[Catch]:
        """Hunt every mutant; `plans` gives each one's rule, the cases it tries first and
        what a catching case must show.

        The reference must be among the runner's backends: catches are checked on it."""

        by_id = {case.id: case for case in self.cases}
        available = [mutant for mutant in mutants if mutant.capabilities is not None]
        first = {
            mutant.id: [by_id[case_id] for case_id in plans[mutant.id].first if case_id in by_id]
            for mutant in available
        }
        ordered = sorted(self.cases, key=_cost)
        rest = {
            mutant.id: [case for case in ordered if case not in first[mutant.id]]
            for mutant in available
        }
        reference = self.runner.backend(self.runner.reference)
        await self.runner.warm_up([*available, reference])
        # The reference runs the cases tried first meanwhile: those are the usual catches,
        # and every catch is checked on it.
        tried = {case.id: case for m in available for case in first[m.id] if not case.exclusive}
        checking = asyncio.ensure_future(self._on_reference(tried.values()))
        try:
            for plan in (first, rest):
                shared = {m.id: [c for c in plan[m.id] if not c.exclusive] for m in available}
                await asyncio.gather(*(self._until_caught(m, shared[m.id]) for m in available))
                await asyncio.wait({checking})  # nothing else in flight for the next ones
                for mutant in available:  # alone: they look at the whole process tree
                    for case in (c for c in plan[mutant.id] if c.exclusive):
                        await self._until_caught(mutant, [case])
        finally:
            checking.cancel()
        # A case the reference did not pass while every mutant ran beside it runs again
        # now, on a quiet machine, with the catches nothing has checked yet.
        on_reference = {i: r for i, r in checking.result().items() if r.status == "pass"}
        caught = {result.case_id: by_id[result.case_id] for result, _ in self._caught.values()}
        on_reference.update(
            await self._on_reference(c for i, c in caught.items() if i not in on_reference)
        )
        voids = {
            case_id: f"it does not pass on {reference.id} either ({result.status}: {result.reason})"
            for case_id, result in on_reference.items()
            if result.status != "pass"
        }
        catches = []
        for mutant in mutants:
            rule = plans[mutant.id].rule
            if mutant.capabilities is None:
                unavailable = f"unavailable: {mutant.unavailable}"
                catches.append(Catch(mutant.id, rule, None, unavailable, 0))
            elif mutant.id not in self._caught:
                catches.append(Catch(mutant.id, rule, None, "the whole suite passed on it", 0))
            else:
                found, seconds = self._caught[mutant.id]
                shows = plans[mutant.id].shows
                void = voids.get(found.case_id) or _unshown(found, shows)
                reason = next((p for p in found.problems if shows and shows in p), found.reason)
                catches.append(Catch(mutant.id, rule, found.case_id, reason, seconds, void))
        return catches

    async def _until_caught(self, backend: BackendUnderTest, cases: Iterable[Case]) -> None:
        """Run `cases` on `backend`, `concurrency` at a time, until one fails or errors."""
        pending = [case for case in cases if backend.id not in self._caught]
        if not pending:
            return
        slots = asyncio.Semaphore(self.runner.concurrency)
        tasks: list[asyncio.Future[None]] = []

        async def one(case: Case) -> None:
            async with slots:
                if backend.id in self._caught:
                    return
                result = await self.runner.run_case(case, backend)
            if result.status in CAUGHT and backend.id not in self._caught:
                self._caught[backend.id] = (result, time.perf_counter() - self._started)
                if self.on_catch is not None:
                    self.on_catch(backend.id, result)
                for task in tasks:
                    if task is not asyncio.current_task():
                        task.cancel()

        tasks.extend(asyncio.ensure_future(one(case)) for case in pending)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _on_reference(self, cases: Iterable[Case]) -> dict[str, CaseResult]:
        """`cases` on the reference: shared ones concurrently, then exclusive ones alone."""
        reference = self.runner.backend(self.runner.reference)
        chosen = list(cases)
        slots = asyncio.Semaphore(self.runner.concurrency)

        async def one(case: Case) -> CaseResult:
            async with slots:
                return await self.runner.run_case(case, reference)

        results = list(await asyncio.gather(*(one(c) for c in chosen if not c.exclusive)))
        results += [await self.runner.run_case(c, reference) for c in chosen if c.exclusive]
        return {result.case_id: result for result in results}

    def end_leftovers(self) -> int:
        """Kill every process still carrying one of this run's markers."""
        return kill_carriers(self.runner.markers)
