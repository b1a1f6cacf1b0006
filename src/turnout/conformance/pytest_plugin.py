"""pytest plugin: the conformance suite as pytest items, one per case and backend.

Loaded automatically where turnout is installed (entry point `pytest11`), or explicitly
with `-p turnout.conformance.pytest_plugin`. It does nothing until a test module imports
the suite:

    # tests/test_conformance.py of a backend plugin
    from turnout.conformance.suite import *  # noqa: F403

Then `pytest --conformance-backend my-backend` runs every case on that backend (the option
repeats; default: every registered backend, or what `pytest_turnout_conformance_backends`
returns). A case whose `requires` the backend does not meet is skipped with the reason; a
case listed in the divergence ledger is a strict expected failure, so a divergence that
gets fixed fails the run until its ledger entry is removed.

The verdict (whether the legacy backend can be deleted) ends the terminal summary and the
report. Only a run of the whole suite on every backend decides it: a run narrowed by
--conformance-theme, --conformance-case, -k, -m, --deselect or node ids is partial, says
so, and records its selection in the report; a selection matching no case is a usage error.

The first item that needs results runs *all* collected (case, backend) pairs at once,
concurrently, through one event loop on a background thread, and every item then reports
its own result: the suite takes as long as its slowest cases, not the sum of all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from turnout.conformance.runner import CaseResult
    from turnout.conformance.session import ConformanceSession, LoopThread

__all__ = [
    "PluginState",
    "conformance_results",
    "conformance_state",
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_generate_tests",
    "pytest_terminal_summary",
]

CASE_FIXTURE = "conformance_case"
BACKEND_FIXTURE = "conformance_backend"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("turnout-conformance", "turnout conformance suite")
    group.addoption(
        "--conformance-backend",
        action="append",
        default=[],
        dest="conformance_backends",
        metavar="ID",
        help="backend to run the conformance suite on (repeatable; default: all registered)",
    )
    group.addoption(
        "--conformance-theme",
        action="append",
        default=[],
        dest="conformance_themes",
        metavar="THEME",
        help="only cases of this theme (repeatable)",
    )
    group.addoption(
        "--conformance-case",
        action="append",
        default=[],
        dest="conformance_case_ids",
        metavar="ID",
        help="only this case (repeatable)",
    )
    group.addoption(
        "--conformance-cases", dest="conformance_cases_dir", metavar="DIR", help="case directory"
    )
    group.addoption(
        "--conformance-ledger", dest="conformance_ledger", metavar="FILE", help="divergence ledger"
    )
    group.addoption(
        "--conformance-concurrency",
        type=int,
        default=4,
        dest="conformance_concurrency",
        metavar="N",
        help="executions in flight per backend (default 4)",
    )
    group.addoption(
        "--conformance-env", dest="conformance_env", metavar="ENV", help="flag-file environment"
    )
    group.addoption(
        "--conformance-report",
        dest="conformance_report",
        metavar="DIR",
        help="write parity.json and parity.md here at the end of the session",
    )
    group.addoption(
        "--conformance-examples",
        type=int,
        default=15,
        dest="conformance_examples",
        metavar="N",
        help="Hypothesis examples per property, language and backend (default 15)",
    )


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from turnout.conformance import pytest_hooks

    pluginmanager.add_hookspecs(pytest_hooks)


class PluginState:
    """The session, its event loop and the batch results, created when first needed."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._session: ConformanceSession | None = None
        self._loop: LoopThread | None = None
        self.results: dict[tuple[str, str], CaseResult] | None = None
        self.verdict_line: str | None = None

    @property
    def session(self) -> ConformanceSession:
        if self._session is None:
            self._session = self._open()
        return self._session

    def _open(self) -> ConformanceSession:
        from turnout.conformance.session import ConformanceSession
        from turnout.errors import TurnoutError
        from turnout.registry import default_registry

        config = self.config
        option = config.getoption
        hook: Any = config.hook
        try:
            registry = hook.pytest_turnout_conformance_registry(config=config)
            if registry is None:
                registry = default_registry()
            backends = list(option("conformance_backends") or [])
            if not backends:
                backends = list(
                    hook.pytest_turnout_conformance_backends(config=config, registry=registry) or []
                )
            cases_dir, ledger = option("conformance_cases_dir"), option("conformance_ledger")
            return ConformanceSession.open(
                registry=registry,
                backend_ids=backends,
                themes=option("conformance_themes") or (),
                case_ids=option("conformance_case_ids") or (),
                cases_dir=Path(cases_dir) if cases_dir else None,
                ledger_path=Path(ledger) if ledger else None,
                environment=option("conformance_env"),
                concurrency=option("conformance_concurrency"),
            )
        except TurnoutError as error:
            raise pytest.UsageError(f"turnout conformance: {error.message}") from None

    @property
    def loop(self) -> LoopThread:
        if self._loop is None:
            from turnout.conformance.session import LoopThread

            self._loop = LoopThread("turnout-conformance")
        return self._loop

    def run_items(self, items: list[pytest.Item]) -> dict[tuple[str, str], CaseResult]:
        """Run every (case, backend) pair among `items` at once; cache the results."""
        if self.results is None:
            session = self.session
            cases = {case.id: case for case in session.cases}
            backends = {backend.id: backend for backend in session.backends}
            wanted: dict[tuple[str, str], Any] = {}
            for item in items:
                callspec = getattr(item, "callspec", None)
                if callspec is None or CASE_FIXTURE not in callspec.params:
                    continue
                # Skipped items too: the runner concludes them as skips without running
                # anything, and the report needs them to show the run was whole.
                case_id, backend_id = callspec.params[CASE_FIXTURE]
                wanted[case_id, backend_id] = (cases[case_id], backends[backend_id])
            results = self.loop.run(_run_pairs(session, list(wanted.values())))
            self.results = {(r.case_id, r.backend): r for r in results}
        return self.results

    def filters(self) -> list[str]:
        """The options that narrowed this run, as they were typed."""
        option = self.config.option
        chosen = [f"--conformance-theme {theme}" for theme in option.conformance_themes or ()]
        chosen += [f"--conformance-case {case}" for case in option.conformance_case_ids or ()]
        if getattr(option, "keyword", ""):
            chosen.append(f"-k {option.keyword!r}")
        if getattr(option, "markexpr", ""):
            chosen.append(f"-m {option.markexpr!r}")
        chosen += [f"--deselect {node}" for node in getattr(option, "deselect", None) or ()]
        chosen += [arg for arg in self.config.args if "::" in arg]
        return chosen

    def close(self) -> None:
        if self._session is not None:
            session = self._session
            report_dir = self.config.getoption("conformance_report")
            if self.results is not None:
                report = session.report(list(self.results.values()), filters=self.filters())
                self.verdict_line = report.verdict.line
                if report_dir:
                    report.write(Path(report_dir))
            self.loop.run(session.aclose())
        if self._loop is not None:
            self._loop.close()


async def _run_pairs(session: ConformanceSession, pairs: list[Any]) -> list[CaseResult]:
    from turnout.conformance.session import planted_secrets

    with planted_secrets(session.backends):
        return await session.runner.run_pairs(pairs)


_STATE = pytest.StashKey[PluginState]()


def _state(config: pytest.Config) -> PluginState:
    state = config.stash.get(_STATE, None)
    if state is None:
        state = config.stash[_STATE] = PluginState(config)
    return state


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize suite tests: `conformance_case` per (case, backend), with skip and
    strict-xfail marks; `conformance_backend` per backend."""
    names = metafunc.fixturenames
    if CASE_FIXTURE not in names and BACKEND_FIXTURE not in names:
        return
    state = _state(metafunc.config)
    session = state.session
    if not session.cases:
        chosen = " ".join(state.filters()) or "the case directory"
        raise pytest.UsageError(
            f"turnout conformance: the selection ({chosen}) matches no case; nothing would "
            "be tested"
        )
    if CASE_FIXTURE in names:
        params = []
        for case in session.cases:
            for backend in session.backends:
                marks: list[Any] = []
                if backend.capabilities is not None:
                    unmet = case.unmet(backend.capabilities)
                    if unmet is not None:
                        marks.append(pytest.mark.skip(reason=unmet))
                entry = session.ledger.entry(case.id, backend.id)
                if entry is not None:
                    reason = f"accepted divergence (decided {entry.decided}): {entry.reason}"
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                params.append(
                    pytest.param((case.id, backend.id), id=f"{case.id}@{backend.id}", marks=marks)
                )
        metafunc.parametrize(CASE_FIXTURE, params)
    if BACKEND_FIXTURE in names:
        metafunc.parametrize(
            BACKEND_FIXTURE, [b.id for b in session.backends], ids=[b.id for b in session.backends]
        )


@pytest.fixture(scope="session")
def conformance_state(request: pytest.FixtureRequest) -> Iterator[PluginState]:
    """The plugin's state for this session; closes the backends at the end."""
    state = _state(request.config)
    yield state
    state.close()


@pytest.fixture
def conformance_results(
    request: pytest.FixtureRequest, conformance_state: PluginState
) -> dict[tuple[str, str], CaseResult]:
    """Results of every collected case item, run in one concurrent batch on first use."""
    return conformance_state.run_items(list(request.session.items))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """End the summary with the verdict, as `turnout conformance` ends its output."""
    state = config.stash.get(_STATE, None)
    if state is not None and state.verdict_line is not None:
        for line in state.verdict_line.split("\n"):  # one line per candidate target
            terminalreporter.write_line(f"turnout conformance: {line}")
