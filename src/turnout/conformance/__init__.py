"""The conformance suite: the same cases, run identically on every backend, and the report
that says whether the legacy backend can be deleted (docs/conformance.md).

    case_schema.py   the TOML case schema (what a case file may say)
    requirements.py  capabilities a backend must declare to run a case
    cases.py         finding, reading and expanding case files (they ship in the package)
    expectations.py  observations and how they are matched against expectations
    differential.py  normalized envelopes compared across backends
    ledger.py        accepted divergences (strict expected failures)
    backends.py      the backends under test, the engine that runs them
    runner.py        concurrent runs within each backend's limits; conclusions
    report.py        parity.json, parity.md and the verdict
    selection.py     which part of the suite a run covered (a partial run gets no verdict)
    session.py       cases + ledger + engine + backends, opened once
    replay.py        exported real nodes, replayed on every backend
    properties.py    Hypothesis property checks, on any backend
    pytest_plugin.py, pytest_hooks.py, suite.py   the suite as pytest tests

The pytest modules need pytest and are not re-exported here.
"""

from turnout.conformance.backends import DEFAULT_REFERENCE, BackendUnderTest
from turnout.conformance.case_schema import Expectation
from turnout.conformance.cases import Case, CaseFileError, load_cases
from turnout.conformance.expectations import Observation
from turnout.conformance.ledger import Ledger, LedgerEntry
from turnout.conformance.replay import ReplayNode, load_corpus, replay, replay_report
from turnout.conformance.report import ParityReport, Verdict
from turnout.conformance.runner import CaseResult, ConformanceRunner
from turnout.conformance.session import ConformanceSession
from turnout.normalization import ErrorInfo

__all__ = [
    "DEFAULT_REFERENCE",
    "BackendUnderTest",
    "Case",
    "CaseFileError",
    "CaseResult",
    "ConformanceRunner",
    "ConformanceSession",
    "ErrorInfo",
    "Expectation",
    "Ledger",
    "LedgerEntry",
    "Observation",
    "ParityReport",
    "ReplayNode",
    "Verdict",
    "load_cases",
    "load_corpus",
    "replay",
    "replay_report",
]
