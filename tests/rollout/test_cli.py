"""Tests for `turnout rollout report` (turnout.cli.rollout): output and exit codes."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from turnout.cli import rollout as rollout_command

from .support import ENV, compared, executed, lines


def run(*argv: str) -> int:
    """Run `turnout rollout ...` through a parser holding only this command."""
    parser = argparse.ArgumentParser(prog="turnout")
    rollout_command.register(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(["rollout", *argv])
    status: int = arguments.handler(arguments)
    return status


def report_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """The single JSON object `report --json` printed (fails on anything else)."""
    assert run("report", "--json", *argv) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """A small log: one shadow execution in `prod` and `staging`, a comparison, junk."""
    path = tmp_path / "turnout.log"
    events = lines(
        executed(),
        executed("e2b", "shadow"),
        compared(),
        executed(environment="staging"),
    )
    path.write_text("".join(events) + "starting worker\n", encoding="utf-8")
    return path


class TestReportText:
    def test_prints_every_environment_and_stage(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The text report has a block per environment and stage, and exits 0."""
        assert run("report", str(log)) == 0
        out = capsys.readouterr().out
        assert f"rollout report: {log}" in out
        assert "5 lines: 4 events counted, 1 skipped" in out
        assert f"environment {ENV}" in out
        assert "environment staging" in out
        assert "stage shadow  (target e2b; 2026-01-10 08:00:00Z" in out
        assert "comparisons 1: 1 match, 0 ignored (0 ignored differences), 0 mismatch (0%)" in out

    def test_prints_the_gate_and_each_check(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A gate that is not met says so, with a FAIL line per failing check."""
        run("report", str(log), "--env", ENV)
        out = capsys.readouterr().out
        assert "gate to live: NOT MET" in out
        assert "FAIL  comparisons 1 >= 1000" in out
        assert "ok    mismatch rate 0% <= 0.1%" in out
        assert "also required: conformance verdict" in out

    def test_prints_candidate_errors_apart_with_their_gate_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Comparisons whose candidate could not run are printed apart from mismatches,
        with a gate line of their own."""
        path = tmp_path / "staging.log"
        events = [
            compared("candidate_error", candidate_outcome="ConfigurationError") for _ in range(7)
        ]
        path.write_text("".join(lines(*events)), encoding="utf-8")
        run("report", str(path))
        out = capsys.readouterr().out
        assert "comparisons 0: 0 match, 0 ignored (0 ignored differences), 0 mismatch (-)" in out
        assert "not compared: 7 candidate errors (100%), 0 authoritative errors" in out
        assert "FAIL  candidate error rate 100% <= 1%" in out
        assert "mismatched paths" not in out

    def test_says_when_an_environment_has_no_events(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--env` naming an environment absent from the log prints that, exit 0."""
        assert run("report", str(log), "--env", "production") == 0
        assert "no rollout events for environment production" in capsys.readouterr().out


class TestReportJson:
    def test_prints_exactly_one_object(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`--json` prints one JSON object with every environment and the thresholds."""
        data = report_json(capsys, str(log))
        assert sorted(data["environments"]) == [ENV, "staging"]
        assert data["thresholds"]["min_comparisons"] == 1000
        assert data["skipped"] == 1

    def test_env_keeps_one_environment(self, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`--env staging` reports staging only."""
        data = report_json(capsys, str(log), "--env", "staging")
        assert list(data["environments"]) == ["staging"]

    def test_gate_flags_override_the_defaults(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--gate-*` flags replace the thresholds, so a tiny log can meet the shadow gate."""
        data = report_json(
            capsys,
            str(log),
            "--gate-min-comparisons",
            "1",
            "--gate-min-hours",
            "0",
            "--gate-max-mismatch-rate",
            "0.5%",
        )
        assert data["thresholds"]["max_mismatch_rate"] == 0.005
        assert data["environments"][ENV]["stages"]["shadow"]["gate"]["met"] is True

    def test_merge_steps_folds_configurations_together(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """By default two configurations of a stage are two blocks; `--merge-steps` makes
        them one and says so in the JSON."""
        path = tmp_path / "turnout.log"
        path.write_text(
            "".join(
                lines(
                    executed("e2b", stage="live", flags_hash="aaaa"),
                    executed("e2b", stage="live", flags_hash="bbbb"),
                )
            )
        )
        split = report_json(capsys, str(path))["environments"][ENV]["stages"]
        merged = report_json(capsys, str(path), "--merge-steps")
        assert sorted(split) == ["live [flags aaaa]", "live [flags bbbb]"]
        assert list(merged["environments"][ENV]["stages"]) == ["live"]
        assert merged["merge_configurations"] is True

    def test_coverage_thresholds_are_flags(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The never-compared share and shed rate limits are set like the others."""
        data = report_json(
            capsys,
            str(log),
            "--gate-max-never-compared-share",
            "20%",
            "--gate-max-shed-rate",
            "0.1",
        )
        assert data["thresholds"]["max_never_compared_share"] == 0.2
        assert data["thresholds"]["max_shed_rate"] == 0.1

    def test_reads_stdin_for_dash(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """LOGFILE `-` reads the log from stdin."""
        monkeypatch.setattr("sys.stdin", io.StringIO("".join(lines(executed()))))
        data = report_json(capsys, "-")
        assert data["source"] == "<stdin>"
        assert data["environments"][ENV]["stages"]["shadow"]["executions"] == 1


class TestExitCodes:
    def test_missing_file_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A log file that does not exist is an invalid argument: exit 2 and why, on stderr."""
        missing = tmp_path / "nope.log"
        assert run("report", str(missing)) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert f"LOGFILE: cannot read '{missing}': No such file or directory" in captured.err

    def test_directory_exits_2_with_a_json_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With `--json`, an unreadable file prints one `{"error": ...}` object, exit 2."""
        assert run("report", str(tmp_path), "--json") == 2
        error = json.loads(capsys.readouterr().out)["error"]
        assert (error["type"], error["field"]) == ("ValidationError", "LOGFILE")

    def test_corrupt_gzip_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A `.gz` file that is not gzip cannot be read: exit 2, not a traceback."""
        path = tmp_path / "turnout.log.gz"
        path.write_bytes(b"plain text, not gzip\n")
        assert run("report", str(path)) == 2
        assert "cannot read" in capsys.readouterr().err

    def test_a_log_of_junk_still_exits_0(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A readable file with no rollout events is a report of nothing, not an error."""
        path = tmp_path / "junk.log"
        path.write_text("hello\nworld\n", encoding="utf-8")
        assert report_json(capsys, str(path))["skipped"] == 2

    @pytest.mark.parametrize(
        ("option", "value"),
        [
            ("--gate-max-mismatch-rate", "150%"),
            ("--gate-max-fallback-rate", "-0.1"),
            ("--gate-max-infra-error-rate", "lots"),
            ("--gate-min-comparisons", "ten"),
            ("--gate-min-executions", "-1"),
            ("--gate-min-hours", "nan"),
        ],
    )
    def test_invalid_thresholds_exit_2(self, log: Path, option: str, value: str) -> None:
        """A threshold that is not a number, or out of range, is refused by argparse (exit 2)."""
        with pytest.raises(SystemExit) as caught:
            run("report", str(log), option, value)
        assert caught.value.code == 2


class TestRateArguments:
    @pytest.mark.parametrize(
        ("text", "rate"), [("0.001", 0.001), ("0.1%", 0.001), ("1%", 0.01), ("1", 1.0)]
    )
    def test_fraction_or_percentage(
        self, log: Path, text: str, rate: float, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A rate is a fraction of 1, or a percentage with `%`."""
        data = report_json(capsys, str(log), "--gate-max-fallback-rate", text)
        assert data["thresholds"]["max_fallback_rate"] == rate


class TestHelp:
    def test_help_lists_every_gate_flag_with_its_default(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`report --help` prints (percent signs and all) every threshold and its default."""
        with pytest.raises(SystemExit) as caught:
            run("report", "--help")
        assert caught.value.code == 0
        out = " ".join(capsys.readouterr().out.split())
        for flag, default in [
            ("--gate-min-comparisons N", "1000"),
            ("--gate-max-mismatch-rate R", "0.001"),
            ("--gate-max-infra-error-rate R", "0.01"),
            ("--gate-max-candidate-error-rate R", "0.01"),
            ("--gate-min-executions N", "1000"),
            ("--gate-max-fallback-rate R", "0.01"),
            ("--gate-min-hours H", "24"),
        ]:
            assert flag in out
            assert f"(default {default})" in out.split(flag, 1)[1]
