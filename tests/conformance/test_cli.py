"""`turnout conformance` and `turnout replay` on local-subprocess: output, files, exit codes."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from turnout.cli import conformance, replay
from turnout.conformance import session

from .support import fake_backend, registry_of, result, write_cases

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
        """The last line of stdout is the verdict (here: none, the run is partial); nothing
        unexpected means exit 0."""
        status = main("conformance", "--backend", "local-subprocess", "--case", "outputs.return")
        lines = capsys.readouterr().out.splitlines()
        assert status == 0
        assert lines[0] == "local-subprocess [deprecated]: local"
        assert lines[-1].startswith("VERDICT: none: partial run, 2 of ")

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


class TestMutantsMode:
    def test_a_caught_mutant_is_named_with_its_case_and_exits_0(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--mutants prints the case that caught each mutant, then the summary."""
        status = main("conformance", "--mutants", "--mutant", "mutant-wrong-line")
        lines = capsys.readouterr().out.splitlines()
        assert status == 0
        assert lines[0].startswith(
            "mutant-wrong-line (breaks: the result file is returned as the program wrote it): "
            "caught by errors.syntax.python after "
        )
        assert lines[-1].startswith("MUTANTS: 1 of 1 caught in ")

    def test_filters_cannot_narrow_a_hunt(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A hunt runs the whole suite: --theme with --mutants is invalid input."""
        assert main("conformance", "--mutants", "--theme", "errors") == 2
        assert "--theme cannot be combined with --mutants" in capsys.readouterr().err

    def test_an_unknown_mutant_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A mistyped mutant id is refused, naming the known ones."""
        assert main("conformance", "--mutant", "mutant-nope") == 2
        assert "mutant-timeout-late" in capsys.readouterr().err


THEMED_CASES = """
[[cases]]
id = "config.one"
description = "returns one"
config = { language = "python", code = "return 1" }
expect = { output = 1 }
"""
OTHER_CASES = THEMED_CASES.replace("config.one", "memory.one")


@pytest.fixture
def two_fake_backends(no_flag_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`ref` and `target`, both answering 1, as the registry; a two-theme case directory."""
    registry = registry_of(fake_backend("ref"), fake_backend("target"))
    monkeypatch.setattr(session, "default_registry", lambda: registry)
    write_cases(no_flag_file / "cases", "config", THEMED_CASES)
    write_cases(no_flag_file / "cases", "memory", OTHER_CASES)
    return no_flag_file / "cases"


def run_on_fakes(cases: Path, *selection: str) -> int:
    backends = ("--backend", "ref", "--backend", "target", "--reference", "ref")
    return main("conformance", *backends, "--cases", str(cases), *selection)


class TestPartialRuns:
    def test_a_theme_run_is_partial_and_gives_no_verdict(
        self, two_fake_backends: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--theme narrows the run: the last line says partial, never 'can be deleted'."""
        status = run_on_fakes(two_fake_backends, "--theme", "config")
        last = capsys.readouterr().out.splitlines()[-1]
        assert status == 0
        assert last.startswith("VERDICT: none: partial run, 1 of 2 cases (--theme config)")

    def test_the_whole_suite_gets_the_verdict(
        self, two_fake_backends: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without a filter the same backends earn the verdict."""
        assert run_on_fakes(two_fake_backends) == 0
        assert capsys.readouterr().out.splitlines()[-1].startswith("VERDICT: ref can be deleted")

    def test_the_report_records_the_selection(self, two_fake_backends: Path) -> None:
        """parity.json holds the filters and says partial; deletable is false."""
        out = two_fake_backends.parent / "out"
        run_on_fakes(two_fake_backends, "--case", "config.one", "--report", str(out))
        data = json.loads((out / "parity.json").read_text())
        assert data["selection"]["filters"] == ["--case config.one"]
        assert (data["selection"]["partial"], data["verdict"]["deletable"]) == (True, False)
        assert (
            "**Partial run**: 1 of 2 cases (--case config.one)." in (out / "parity.md").read_text()
        )

    def test_an_empty_selection_exits_2_and_says_nothing_was_tested(
        self, two_fake_backends: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A theme and a case that select nothing together: no verdict, exit 2."""
        status = run_on_fakes(two_fake_backends, "--theme", "memory", "--case", "config.one")
        assert status == 2
        assert capsys.readouterr().out.splitlines()[-1] == (
            "VERDICT: none: the selection (--theme memory --case config.one) matches no case; "
            "nothing was tested"
        )


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
