"""`turnout conformance` and `turnout replay` on local-subprocess: output, files, exit codes."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from turnout.cli import conformance, replay

from .support import result

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "replay"
WRONG_CASE = """
[[cases]]
id = "t.wrong"
description = "expects the wrong output on purpose"
config = { language = "python", code = "return 1" }
expect = { output = 2 }
"""


def main(*argv: str) -> int:
    """The two commands as `turnout` will register them (cli/__init__.py is not ours)."""
    parser = argparse.ArgumentParser(prog="turnout")
    commands = parser.add_subparsers(dest="command", required=True)
    conformance.register(commands)
    replay.register(commands)
    arguments = parser.parse_args(argv)
    status: int = arguments.handler(arguments)
    return status


class TestConformanceCommand:
    def test_a_passing_run_exits_0_and_ends_with_the_verdict(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The last line of stdout is the verdict; nothing unexpected means exit 0."""
        status = main("conformance", "--backend", "local-subprocess", "--case", "outputs.return")
        lines = capsys.readouterr().out.splitlines()
        assert status == 0
        assert lines[0] == "local-subprocess [deprecated]: local"
        assert lines[-1].startswith("VERDICT: undecided: only local-subprocess ran")

    def test_the_report_files_are_written(self, tmp_path: Path) -> None:
        """--report DIR writes parity.json and parity.md there."""
        main(
            "conformance",
            "--backend",
            "local-subprocess",
            "--case",
            "outputs.return",
            "--report",
            str(tmp_path),
        )
        data = json.loads((tmp_path / "parity.json").read_text())
        assert [item["id"] for item in data["items"]] == [
            "outputs.return.python",
            "outputs.return.javascript",
        ]
        assert (tmp_path / "parity.md").read_text().startswith("# Parity report")

    def test_json_prints_exactly_one_object(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--json prints parity.json's content and nothing else on stdout."""
        main("conformance", "--backend", "local-subprocess", "--case", "outputs.return", "--json")
        captured = capsys.readouterr()
        assert json.loads(captured.out)["kind"] == "conformance"
        assert captured.err.rstrip().splitlines()[-1].startswith("VERDICT:")

    def test_a_failing_case_exits_1_and_is_listed(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unexpected failure makes the exit status 1 and is named in the summary."""
        (tmp_path / "t.toml").write_text(WRONG_CASE)
        status = main("conformance", "--backend", "local-subprocess", "--cases", str(tmp_path))
        assert status == 1
        assert "UNEXPECTED fail: t.wrong on local-subprocess" in capsys.readouterr().out

    def test_an_unknown_theme_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A mistyped theme is invalid input, named in the error."""
        status = main("conformance", "--backend", "local-subprocess", "--theme", "inptus")
        assert status == 2
        assert "inptus" in capsys.readouterr().err

    def test_an_unknown_backend_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A backend no plugin registered is invalid input, naming the registered ones."""
        assert main("conformance", "--backend", "e3b") == 2
        assert "local-subprocess" in capsys.readouterr().err


class TestReplayCommand:
    def test_the_example_corpus_replays_cleanly(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Every example node matches its recorded outcome on local-subprocess."""
        status = main(
            "replay",
            str(EXAMPLES / "workflows.jsonl"),
            "--backend",
            "local-subprocess",
            "--report",
            str(tmp_path),
        )
        assert status == 0, capsys.readouterr().out
        assert json.loads((tmp_path / "parity.json").read_text())["kind"] == "replay"

    def test_a_malformed_corpus_exits_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A broken line is invalid input, reported as FILE:LINE."""
        corpus = tmp_path / "nodes.jsonl"
        corpus.write_text("{broken\n")
        assert main("replay", str(corpus), "--backend", "local-subprocess") == 2
        assert "nodes.jsonl:1" in capsys.readouterr().err


class TestProgressBar:
    def test_without_a_terminal_a_line_is_printed_per_tenth(self) -> None:
        """Redirected output gets at most eleven progress lines, never carriage returns."""
        stream = io.StringIO()
        bar = conformance.ProgressBar(stream)
        for done in range(1, 101):
            bar(done, 100, result("c", "b", "pass"))
        lines = stream.getvalue().splitlines()
        assert len(lines) == 11
        assert "\r" not in stream.getvalue()

    def test_failures_are_counted_as_they_happen(self) -> None:
        """The bar says how many results so far failed, before the ledger is applied."""
        stream = io.StringIO()
        conformance.ProgressBar(stream)(1, 1, result("c", "b", "fail"))
        assert stream.getvalue().strip().endswith("1/1, 1 failing before the ledger")
