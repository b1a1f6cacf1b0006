from __future__ import annotations

from typing import Any

import pytest
from turnout_local_subprocess.capture import CappedSink
from turnout_local_subprocess.ending import report
from turnout_local_subprocess.isolation import InitReport
from turnout_local_subprocess.process import RunOutcome
from turnout_local_subprocess.workdir import ResultFile

from turnout.models import ExecutionRequest

OUTCOME = b'{"ok":true,"channel":"return","value":"done"}'
TIMINGS = {"total": 1.0}


def request() -> ExecutionRequest:
    return ExecutionRequest(
        execution_id="t",
        language="javascript",
        program="",
        timeout_ms=1000,
        result_path="r",
        max_result_bytes=1024,
    )


def outcome(*, timed_out: bool = False, returncode: int | None = 0) -> RunOutcome:
    return RunOutcome(
        returncode, timed_out, CappedSink("stdout", 1024), CappedSink("stderr", 1024), 1.0, 1.0
    )


class TestReport:
    """A result file is reported only for a program that ended on its own."""

    async def test_exited_keeps_the_result(self):
        """A program that exited reports the outcome its runtime wrote."""
        result = report(
            request(), outcome(), InitReport(True, 0), False, ResultFile(OUTCOME), TIMINGS
        )
        assert (result.termination, result.result) == ("exited", OUTCOME)

    @pytest.mark.parametrize(
        ("ended", "init", "memory", "termination"),
        [
            ({"timed_out": True}, InitReport(True, None), False, "timeout"),
            ({"returncode": 1}, InitReport(True, None), True, "memory"),
            ({"returncode": 1}, InitReport(True, 134), True, "memory"),
            ({"returncode": -9}, InitReport(True, None), False, "killed"),
        ],
        ids=["timeout", "memory-kill", "memory-abort", "killed"],
    )
    async def test_a_stopped_program_reports_no_result(
        self, ended: dict[str, Any], init: InitReport, memory: bool, termination: str
    ):
        """With timeout, memory or killed, an outcome written before turnout stopped the
        program is dropped, and so is a too-large flag."""
        for found in (ResultFile(OUTCOME), ResultFile(None, too_large=True)):
            result = report(request(), outcome(**ended), init, memory, found, TIMINGS)
            assert (result.termination, result.result, result.result_too_large) == (
                termination,
                None,
                False,
            )
