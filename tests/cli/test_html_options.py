"""`--html FILE` on rollout report, and parity.html of conformance: the page is written
where asked, and without the reports extra the command says how to install it before
doing any work. (bench and chaos: tests/plugins/devtools/cli/test_html_options.py.)"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from turnout.cli import main
from turnout.cli.conformance import finish

from ..reports import samples
from ..rollout.support import executed, lines

INSTALL = "pip install 'turnout[reports]'"


@pytest.fixture
def without_plotly(monkeypatch: pytest.MonkeyPatch) -> None:
    """plotly as a machine without the reports extra sees it: not importable."""
    monkeypatch.setitem(sys.modules, "plotly", None)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "turnout.log"
    path.write_text("".join(lines(executed(), executed("e2b", "shadow"))), encoding="utf-8")
    return path


class TestRolloutReport:
    def test_html_writes_the_page_beside_the_text_report(
        self, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--html FILE` writes the page and still prints the text report, exit 0."""
        page = tmp_path / "out" / "rollout.html"
        assert main(["rollout", "report", str(log), "--html", str(page)]) == 0
        captured = capsys.readouterr()
        assert "rollout report:" in captured.out
        assert f"wrote {page}" in captured.err
        assert "Rollout report" in page.read_text(encoding="utf-8")

    def test_html_with_json_keeps_stdout_one_json_object(
        self, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With --json too, stdout is still exactly the JSON report."""
        page = tmp_path / "rollout.html"
        assert main(["rollout", "report", str(log), "--json", "--html", str(page)]) == 0
        assert json.loads(capsys.readouterr().out)["events"] == 2
        assert page.exists()

    @pytest.mark.usefixtures("without_plotly")
    def test_without_the_extra_it_says_how_to_install_it(
        self, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No plotly: exit 1, the install command on stderr, no text report, no file."""
        page = tmp_path / "rollout.html"
        assert main(["rollout", "report", str(log), "--html", str(page)]) == 1
        captured = capsys.readouterr()
        assert INSTALL in captured.err
        assert captured.out == ""
        assert not page.exists()

    def test_a_directory_is_refused_as_the_file(
        self, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--html DIR` is invalid input (exit 2), named as such."""
        assert main(["rollout", "report", str(log), "--html", str(tmp_path)]) == 2
        assert "--html" in capsys.readouterr().err


class TestConformanceReport:
    def arguments(self, directory: Path) -> argparse.Namespace:
        return argparse.Namespace(report=directory, json=False)

    def test_the_report_directory_gets_parity_html(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--report DIR` writes parity.html too, and says so."""
        finish(samples.hostile_report(), self.arguments(tmp_path))
        assert f"wrote {tmp_path / 'parity.html'}" in capsys.readouterr().err
        assert (tmp_path / "parity.html").exists()

    @pytest.mark.usefixtures("without_plotly")
    def test_without_the_extra_json_and_markdown_are_still_written(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No plotly: parity.json and parity.md are written, and stderr says why parity.html
        is not and how to get it."""
        finish(samples.hostile_report(), self.arguments(tmp_path))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["parity.json", "parity.md"]
        assert f"parity.html not written: the HTML reports need plotly ({INSTALL})" in (
            capsys.readouterr().err
        )


class TestHtmlTarget:
    def test_a_file_in_place_of_the_directory_is_refused_before_the_run(
        self, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A FILE whose directory cannot be made is invalid input (exit 2), caught first."""
        blocker = tmp_path / "file"
        blocker.write_text("x")
        assert main(["rollout", "report", str(log), "--html", str(blocker / "r.html")]) == 2
        captured = capsys.readouterr()
        assert "--html: cannot create" in captured.err
        assert captured.out == ""
