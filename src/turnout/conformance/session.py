"""A conformance session: cases, ledger, engine and backends, opened once and run.

The CLI (`turnout conformance`) and the pytest plugin both go through here, so the suite
behaves the same whichever way it is started. While cases run, secrets are planted in this
process's environment (a canary variable and, where that cannot redirect a backend,
`E2B_API_KEY`), because a backend that leaks the host environment must be caught with
something to leak.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from turnout.conformance.backends import (
    DEFAULT_REFERENCE,
    BackendUnderTest,
    build_engine,
    describe_backends,
    flag_target,
    refresh_endpoints,
    select_backends,
)
from turnout.conformance.cases import Case, default_ledger_path, load_cases
from turnout.conformance.ledger import Ledger
from turnout.conformance.report import ParityReport, ReportItem
from turnout.conformance.runner import CaseResult, ConformanceRunner, Progress
from turnout.conformance.selection import Selection
from turnout.conformance.survivors import kill_carriers
from turnout.engine import Engine
from turnout.loop_thread import LoopThread
from turnout.registry import BackendRegistry, default_registry

__all__ = [
    "CANARY_VARIABLE",
    "PLANTED_SECRET_VARIABLE",
    "ConformanceSession",
    "LoopThread",
    "planted_secrets",
]

CANARY_VARIABLE = "TURNOUT_CONFORMANCE_CANARY"
PLANTED_SECRET_VARIABLE = "TURNOUT_CONFORMANCE_API_KEY"
E2B_KEY_VARIABLE = "E2B_API_KEY"


@contextlib.contextmanager
def planted_secrets(backends: Sequence[BackendUnderTest]) -> Iterator[dict[str, str]]:
    """Plant secrets in os.environ for the duration; restore the environment afterwards.

    `E2B_API_KEY` is planted only when it is unset and no backend under test reports an
    endpoint: a backend that does (e2b) chooses its endpoint from that very variable, and a
    planted key would send it to the cloud. A real key, when set, is checked as it is.
    """
    token = uuid.uuid4().hex
    planted = {
        CANARY_VARIABLE: f"CANARY-{token}",
        PLANTED_SECRET_VARIABLE: f"sk-conformance-planted-{token}",
    }
    if E2B_KEY_VARIABLE not in os.environ and all(b.endpoint == "local" for b in backends):
        planted[E2B_KEY_VARIABLE] = f"e2b_conformance_planted_{token}"
    previous = {name: os.environ.get(name) for name in planted}
    os.environ.update(planted)
    try:
        yield planted
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class ConformanceSession:
    """Everything one conformance run needs, opened once.

    `cases` are the selected cases; `suite` holds the id of every case of the suite and
    `filters` the options that narrowed it (`--theme config`), for the report's selection.
    """

    engine: Engine
    runner: ConformanceRunner
    backends: list[BackendUnderTest]
    cases: list[Case]
    ledger: Ledger
    reference: str
    suite: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()

    @classmethod
    def open(
        cls,
        *,
        registry: BackendRegistry | None = None,
        backend_ids: Sequence[str] = (),
        themes: Sequence[str] = (),
        case_ids: Sequence[str] = (),
        cases_dir: Path | None = None,
        ledger_path: Path | None = None,
        environment: str | None = None,
        flags_path: str | Path | None = None,
        concurrency: int = 4,
        reference: str = DEFAULT_REFERENCE,
    ) -> ConformanceSession:
        """Load and validate cases and ledger, build the engine, construct the backends.

        Raises `CaseFileError` for malformed case or ledger files and `ConfigurationError`
        for unknown backends; a backend that cannot be constructed is kept and reported
        unavailable (its cases end as errors), so the report still shows it.
        """
        chosen_registry = registry if registry is not None else default_registry()
        ids = select_backends(chosen_registry, backend_ids)
        every_case = load_cases(cases_dir)
        selected = load_cases(cases_dir, themes=themes, case_ids=case_ids)
        if ledger_path is not None or cases_dir is None:
            path = ledger_path if ledger_path is not None else default_ledger_path()
            ledger = Ledger.load(path, known_cases=[case.id for case in every_case])
        else:
            ledger = Ledger()
        engine = build_engine(
            chosen_registry, backend_ids=ids, environment=environment, flags_path=flags_path
        )
        backends = describe_backends(engine, ids)
        runner = ConformanceRunner(
            engine, backends, concurrency=concurrency, ledger=ledger, reference=reference
        )
        suite = tuple(case.id for case in every_case)
        filters = tuple(f"--theme {theme}" for theme in themes) + tuple(
            f"--case {case_id}" for case_id in case_ids
        )
        return cls(engine, runner, backends, selected, ledger, reference, suite, filters)

    async def run(
        self, cases: Sequence[Case] | None = None, *, progress: Progress | None = None
    ) -> list[CaseResult]:
        """Run `cases` (default: the selected ones) on every backend, secrets planted."""
        with planted_secrets(self.backends):
            return await self.runner.run(self.cases if cases is None else cases, progress=progress)

    def report(
        self, results: Sequence[CaseResult], *, filters: Sequence[str] | None = None
    ) -> ParityReport:
        """The parity report of `results` (cases in file order, backends in run order).

        `filters` replaces the session's own (`--theme T`) where the caller names them in
        its own terms (the pytest plugin's options, `-k`); a run that left out cases or
        backends is partial whatever the filters."""
        by_case: dict[str, dict[str, CaseResult]] = {}
        for result in results:
            by_case.setdefault(result.case_id, {})[result.backend] = result
        items = [
            ReportItem(case.id, case.theme, case.description, by_case[case.id])
            for case in self.cases
            if case.id in by_case
        ]
        selection = Selection.of(
            filters=self.filters if filters is None else filters,
            suite=self.suite,
            backends=[backend.id for backend in self.backends],
            results=results,
        )
        return ParityReport.build(
            kind="conformance",
            reference=self.reference,
            backends=refresh_endpoints(self.engine, self.backends),
            items=items,
            ledger=self.ledger,
            selection=selection,
            flag_target=flag_target(self.engine),
        )

    async def aclose(self) -> int:
        """Close the backends, then end what they left running: every process still
        carrying one of this run's markers is killed (a survivor the report named must not
        keep running on the host). Returns how many were."""
        try:
            await self.engine.aclose()
        finally:
            ended = await asyncio.to_thread(kill_carriers, self.runner.markers)
        return ended
