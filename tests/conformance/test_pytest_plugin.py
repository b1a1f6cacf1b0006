"""The pytest plugin, run as a backend author runs it: a separate pytest process on a fake
backend registered from a conftest, with a case directory and a ledger of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

CONFTEST = '''
import json
import os

from turnout.models import Capabilities, ExecutionResult
from turnout.registry import BackendRegistry


class FakeBackend:
    """Answers every execution with the output FAKE_VALUE (an integer)."""

    id = "fake"
    deprecated = False
    description = "fake"

    def __init__(self, settings):
        self.settings = settings

    @property
    def capabilities(self):
        return Capabilities(
            languages=frozenset({"python"}), isolation="process", network_access=True,
            max_timeout_ms=300000, max_output_bytes=1024, max_result_bytes=1 << 20,
            memory_limit_mb=None, memory_enforcement="none",
        )

    async def execute(self, request):
        value = int(os.environ["FAKE_VALUE"])
        outcome = {"ok": True, "channel": "return", "value": value}
        return ExecutionResult(result=json.dumps(outcome).encode(), exit_code=0)

    async def aclose(self):
        pass


def pytest_turnout_conformance_registry(config):
    registry = BackendRegistry()
    registry.add(FakeBackend)
    registry.add(FakeReference)
    return registry
'''
REFERENCE = '''

class FakeReference(FakeBackend):
    """The same fake under the legacy backend's id, so that a verdict can be decided."""

    id = "local-subprocess"
'''

CASES = """
[[cases]]
id = "t.two"
description = "returns two"
config = { language = "python", code = "return 2" }
expect = { output = 2 }

[[cases]]
id = "t.javascript"
description = "a javascript case the fake backend cannot run"
config = { language = "javascript", code = "return 2" }
expect = { output = 2 }
"""

LEDGER = """
[[divergence]]
case = "t.two"
backend = "fake"
reason = "the fake backend answers one, known and accepted"
decided = 2025-01-31
"""


def make_project(directory: Path) -> Path:
    """A backend author's checkout: conftest with the fake backend, cases, a test module."""
    (directory / "conftest.py").write_text(CONFTEST)
    (directory / "cases").mkdir()
    (directory / "cases" / "t.toml").write_text(CASES)
    (directory / "test_conformance.py").write_text(
        "from turnout.conformance.suite import test_backend_is_available, test_case\n"
    )
    return directory


def run_pytest(
    factory: pytest.TempPathFactory, *, value: int, ledger: str | None = None, cases: str = CASES
) -> str:
    """Run pytest in a fresh project on the fake backend answering `value`; its output."""
    output, _ = run_project(factory, value=value, ledger=ledger, cases=cases)
    return output


def run_project(
    factory: pytest.TempPathFactory,
    *,
    value: int,
    ledger: str | None = None,
    cases: str = CASES,
    backends: Sequence[str] = ("fake",),
    arguments: Sequence[str] = (),
    other_theme: str | None = None,
) -> tuple[str, Path]:
    """Run pytest with `arguments` in a fresh project on `backends` (each answering
    `value`), with `other_theme` as the cases of a theme `u`; its output and the project's
    directory."""
    project = make_project(factory.mktemp("project"))
    (project / "cases" / "t.toml").write_text(cases)
    if other_theme is not None:
        (project / "cases" / "u.toml").write_text(other_theme)
    (project / "conftest.py").write_text(CONFTEST + REFERENCE)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-rsxX",
        "--conformance-cases",
        "cases",
        *(option for backend in backends for option in ("--conformance-backend", backend)),
        *arguments,
    ]
    if ledger is not None:
        (project / "ledger.toml").write_text(ledger)
        command += ["--conformance-ledger", "ledger.toml"]
    environment = {**os.environ, "FAKE_VALUE": str(value)}
    environment.pop("TURNOUT_FLAGS_FILE", None)
    completed = subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, timeout=120
    )
    return f"{completed.stdout}{completed.stderr}\nexit status {completed.returncode}", project


@pytest.fixture(scope="module")
def passing(tmp_path_factory: pytest.TempPathFactory) -> str:
    return run_pytest(tmp_path_factory, value=2)


class TestPlugin:
    def test_a_passing_case_passes(self, passing: str) -> None:
        """A backend meeting the expectation passes its item (and is available)."""
        assert "2 passed, 1 skipped" in passing

    def test_an_unmet_requirement_is_skipped_with_the_reason(self, passing: str) -> None:
        """The javascript case is skipped on a python-only backend, saying why."""
        assert "needs language javascript; the backend declares python" in passing

    def test_a_ledgered_failure_is_an_expected_failure(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """A failing case listed in the ledger is xfailed, with the ledger's reason."""
        output = run_pytest(tmp_path_factory, value=1, ledger=LEDGER)
        assert "1 passed, 1 skipped, 1 xfailed" in output
        assert "the fake backend answers one" in output

    def test_a_ledgered_case_that_passes_fails_the_run(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """Strict: when the divergence is fixed, the run fails until the entry goes."""
        output = run_pytest(tmp_path_factory, value=2, ledger=LEDGER)
        assert "XPASS(strict)" in output
        assert "1 failed" in output

    def test_a_failing_case_fails_with_the_problem(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """Without a ledger entry, a failure is reported with what differed."""
        output = run_pytest(tmp_path_factory, value=3)
        assert "output: expected 2, got 3" in output
        assert "1 failed" in output

    def test_a_malformed_case_file_names_the_file_and_case(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """A broken case file stops the run with a usage error naming file and case."""
        broken = CASES + (
            '\n[[cases]]\nid = "t.bad"\ndescription = "d"\n'
            'config = { language = "python", code = "1" }\nexpect = { outptu = 1 }\n'
        )
        output = run_pytest(tmp_path_factory, value=2, cases=broken)
        assert "t.toml: case 't.bad': expect.outptu: unknown key" in output


class TestVerdict:
    def test_a_whole_run_ends_with_the_verdict(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """Every case on the reference and the target: the summary ends with the verdict."""
        output, _ = run_project(tmp_path_factory, value=2, backends=("local-subprocess", "fake"))
        assert "turnout conformance: VERDICT: local-subprocess can be deleted" in output

    def test_the_report_shows_skips_and_counts_them(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """A case pytest skips (a capability the backend lacks) is a skip in parity.md's
        matrix and totals, never a blank cell."""
        _, project = run_project(
            tmp_path_factory,
            value=2,
            backends=("local-subprocess", "fake"),
            arguments=("--conformance-report", "out"),
        )
        text = (project / "out" / "parity.md").read_text()
        skip = "skip: needs language javascript; the backend declares python"
        assert f"| `t.javascript` | {skip} | {skip} |" in text
        assert "| **all** | 1 pass, 1 skip | 1 pass, 1 skip |" in text
        assert "—" not in text

    def test_a_keyword_selection_is_partial_and_recorded(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """-k leaves cases out: no verdict, and parity.json records the selection."""
        output, project = run_project(
            tmp_path_factory,
            value=2,
            backends=("local-subprocess", "fake"),
            arguments=("-k", "two", "--conformance-report", "out"),
        )
        data = json.loads((project / "out" / "parity.json").read_text())
        assert "turnout conformance: VERDICT: none: partial run, 1 of 2 cases (-k 'two')" in output
        assert (data["selection"]["filters"], data["verdict"]["decided"]) == (["-k 'two'"], False)

    def test_a_case_option_is_partial(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        """--conformance-case narrows the run the same way."""
        output, _ = run_project(
            tmp_path_factory,
            value=2,
            backends=("local-subprocess", "fake"),
            arguments=("--conformance-case", "t.two"),
        )
        assert "VERDICT: none: partial run, 1 of 2 cases (--conformance-case t.two)" in output

    def test_an_empty_selection_is_a_usage_error(
        self, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """A theme and a case that select nothing together stop collection (exit status 2)."""
        output, _ = run_project(
            tmp_path_factory,
            value=2,
            other_theme=CASES.replace('id = "t.', 'id = "u.'),
            arguments=("--conformance-case", "u.two", "--conformance-theme", "t"),
        )
        assert "matches no case; nothing would be tested" in output
        assert output.endswith("exit status 2")
