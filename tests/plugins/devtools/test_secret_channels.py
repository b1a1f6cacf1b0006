"""A canary secret appears in neither developer tool's report: the chaos report and the
bench report, in text and JSON, repeat neither canary of
tests/reliability/test_secret_channels.py (the E2B API key, a password in a URL) even
when the errors and notes they quote hold both."""

from __future__ import annotations

from typing import Any

import pytest
from turnout_devtools.bench.render import render_text as render_bench
from turnout_devtools.chaos import ChaosReport, FaultSpec
from turnout_devtools.chaos.report import ExecutionRecord
from turnout_devtools.chaos.report import render_text as render_chaos

from turnout.cli.output import print_json

from ...reliability.test_secret_channels import KEY_CANARY, URL_CANARY, leaks


def test_chaos_report_holds_no_canary(capsys: pytest.CaptureFixture[str]) -> None:
    """The chaos report, text and JSON, of executions whose errors quoted both."""
    record = ExecutionRecord(
        index=0,
        language="python",
        workload="ok",
        fault="create_error",
        timeout_ms=1000,
        wall_ms=10.0,
        outcome="error",
        error_type="InfrastructureError",
        error_kind="infrastructure",
        retryable=True,
        started=False,
        message=f"refused http://turnout:{URL_CANARY}@h/ with key {KEY_CANARY}",
    )
    report = ChaosReport(
        executions=1,
        concurrency=1,
        seed=0,
        spec=FaultSpec({}),
        max_sandboxes=1,
        server=f"http://turnout:{URL_CANARY}@127.0.0.1:1",
        records=[record],
        server_problems=[f"leaked key {KEY_CANARY}"],
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("E2B_API_KEY", KEY_CANARY)
        text = render_chaos(report)
        print_json(report.to_dict())
    assert leaks(text + capsys.readouterr().out) == []


def test_bench_report_holds_no_canary(capsys: pytest.CaptureFixture[str]) -> None:
    """The bench report, text and JSON, with a skipped section whose reason quotes both."""
    report: dict[str, Any] = {
        "mode": "quick",
        "machine": {"cpus": 2, "python": "3.11", "load_average": [0.5]},
        "duration_s": 1.0,
        "bounds": [],
        "sections": {
            "e2b": {"skipped": f"http://turnout:{URL_CANARY}@h/ refused key {KEY_CANARY}"}
        },
        "notes": [f"E2B_API_KEY={KEY_CANARY}"],
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("E2B_API_KEY", KEY_CANARY)
        text = render_bench(report)
        print_json(report)
    assert leaks(text + capsys.readouterr().out) == []
