"""Conformance sessions: planted secrets, and opening a session on fake backends."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from turnout.conformance.session import (
    CANARY_VARIABLE,
    ConformanceSession,
    planted_secrets,
)
from turnout.conformance.survivors import host_survivors

from .support import backend_under_test, fake_backend, registry_of, write_cases

CASE = """
[[cases]]
id = "t.one"
description = "returns one"
config.code.python = "return 1"
config.code.javascript = "return 1"
expect = { output = 1 }
"""


class TestPlantedSecrets:
    def test_secrets_are_planted_during_the_run(self) -> None:
        """Inside the block, the canary is in this process's environment."""
        with planted_secrets([backend_under_test("local-subprocess")]) as planted:
            assert os.environ[CANARY_VARIABLE] == planted[CANARY_VARIABLE]

    def test_the_environment_is_restored_afterwards(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """After the block, planted variables are gone and earlier values are back."""
        monkeypatch.setenv(CANARY_VARIABLE, "before")
        with planted_secrets([backend_under_test("local-subprocess")]):
            pass
        assert os.environ[CANARY_VARIABLE] == "before"

    def test_no_e2b_key_is_planted_where_a_backend_reports_an_endpoint(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A planted E2B_API_KEY would send the e2b backend to the cloud: not planted then."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        remote = backend_under_test("e2b")
        remote = type(remote)(**{**remote.__dict__, "endpoint": "local E2B-compatible server"})
        with planted_secrets([remote]) as planted:
            assert "E2B_API_KEY" not in planted

    def test_an_e2b_key_is_planted_for_local_backends(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With only local backends, a fake E2B_API_KEY is planted to be looked for."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        with planted_secrets([backend_under_test("local-subprocess")]) as planted:
            assert os.environ["E2B_API_KEY"] == planted["E2B_API_KEY"]


@pytest.mark.usefixtures("no_flag_file")
class TestConformanceSession:
    async def test_a_session_runs_its_cases_and_reports(self, tmp_path: Path) -> None:
        """open -> run -> report gives one row per case with a result per backend."""
        cases = tmp_path / "cases"
        write_cases(cases, "t", CASE)
        session = ConformanceSession.open(
            registry=registry_of(fake_backend("ref", value=1)),
            cases_dir=cases,
            reference="ref",
        )
        report = session.report(await session.run())
        await session.aclose()
        assert [(item.id, item.results["ref"].status) for item in report.items] == [
            ("t.one.python", "pass"),
            ("t.one.javascript", "pass"),
        ]

    def test_closing_ends_what_carries_the_runs_markers(self, tmp_path: Path) -> None:
        """A process a backend left running with one of the run's markers is killed when the
        session closes; nothing else is."""
        cases = tmp_path / "cases"
        write_cases(cases, "t", CASE)
        session = ConformanceSession.open(
            registry=registry_of(fake_backend("ref")), cases_dir=cases, reference="ref"
        )
        marker = f"turnout-conformance-{uuid.uuid4().hex[:16]}"
        session.runner.markers.add(marker)
        sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
        survivor = subprocess.Popen([*sleeper, marker])
        bystander = subprocess.Popen(sleeper)
        try:
            deadline = time.monotonic() + 10  # until the survivor has exec'd its command line
            while not host_survivors(marker) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert asyncio.run(session.aclose()) == 1
            assert survivor.wait(timeout=10) == -signal.SIGKILL
            assert bystander.poll() is None
        finally:
            for process in (survivor, bystander):
                process.kill()
                process.wait()

    def test_a_custom_case_directory_has_an_empty_ledger_by_default(self, tmp_path: Path) -> None:
        """The shipped ledger only applies to the shipped cases."""
        cases = tmp_path / "cases"
        write_cases(cases, "t", CASE)
        session = ConformanceSession.open(
            registry=registry_of(fake_backend("ref")), cases_dir=cases
        )
        assert session.ledger.entries == ()
