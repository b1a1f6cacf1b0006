"""`--html FILE` on bench and chaos: the page is written where asked, and without the
reports extra the command says how to install it before any measurement or server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from turnout_devtools.chaos import ChaosOptions, ChaosReport

from turnout.cli import main

from .. import samples

INSTALL = "pip install 'turnout[reports]'"


@pytest.fixture
def without_plotly(monkeypatch: pytest.MonkeyPatch) -> None:
    """plotly as a machine without the reports extra sees it: not importable."""
    monkeypatch.setitem(sys.modules, "plotly", None)


class TestBench:
    @pytest.mark.usefixtures("without_plotly")
    def test_without_the_extra_nothing_is_measured(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No plotly: exit 1 with the install command before any section runs."""
        page = tmp_path / "bench.html"
        assert main(["bench", "--only", "local-python", "--html", str(page)]) == 1
        captured = capsys.readouterr()
        assert INSTALL in captured.err
        assert "bench: local-python" not in captured.err

    def test_html_of_a_tiny_run(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`turnout bench --only local-python --iterations 2 --html FILE` writes the page."""
        page = tmp_path / "bench.html"
        status = main(["bench", "--only", "local-python", "--iterations", "2", "--html", str(page)])
        assert status == 0
        assert f"wrote {page}" in capsys.readouterr().err
        assert "local-subprocess python overhead" in page.read_text(encoding="utf-8")


class TestChaos:
    @pytest.mark.usefixtures("without_plotly")
    def test_without_the_extra_no_server_is_started(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No plotly: exit 1 with the install command, before the run starts."""
        assert main(["chaos", "--executions", "1", "--html", str(tmp_path / "c.html")]) == 1
        captured = capsys.readouterr()
        assert INSTALL in captured.err
        assert "executions done" not in captured.err

    def test_html_is_written_from_the_runs_report(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The page is the report the run returned (the run itself is tested in
        tests/plugins/devtools/chaos)."""
        report = samples.chaos_report(executions=20)

        async def run_chaos(options: ChaosOptions, **_: Any) -> ChaosReport:
            return report

        monkeypatch.setattr("turnout_devtools.chaos.run_chaos", run_chaos)
        page = tmp_path / "chaos.html"
        assert main(["chaos", "--executions", "20", "--html", str(page)]) == 0
        assert f"wrote {page}" in capsys.readouterr().err
        assert "All properties hold" in page.read_text(encoding="utf-8")
