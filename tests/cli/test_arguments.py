"""`--flags FILE`: one spelling on every command that reads the feature flag file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from turnout.cli import build_parser, main

# Every command that reads feature_flags.toml (chaos and bench write their own; rollout
# report reads logs, not flags).
READS_FLAGS = (
    ("run",),
    ("backends",),
    ("flags", "validate"),
    ("flags", "show"),
    ("flags", "explain"),
    ("conformance",),
    ("replay",),
    ("e2b", "reap"),
)
CUSTOM_ONLY = """
schema_version = 1
[environments.custom]
stage = "off"
legacy_backend = "local-subprocess"
"""


def subparser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = action.choices[name]
    return parser


def leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    found = {}
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return {path: parser}
    for name, child in groups[0].choices.items():
        found.update(leaves(child, (*path, name)))
    return found


@pytest.fixture
def custom_flags(tmp_path: Path) -> Path:
    """A flag file whose only environment, `custom`, no other file defines."""
    path = tmp_path / "custom.toml"
    path.write_text(CUSTOM_ONLY, encoding="utf-8")
    return path


class TestOneSpelling:
    @pytest.mark.parametrize("path", READS_FLAGS, ids=" ".join)
    def test_the_command_takes_flags_file(self, path: tuple[str, ...]) -> None:
        """Each command that reads flags has `--flags FILE`."""
        options = {o: a for a in subparser(path)._actions for o in a.option_strings}
        assert options["--flags"].metavar == "FILE"
        assert options["--flags"].dest == "flags"

    def test_no_command_shows_another_spelling(self) -> None:
        """No command offers `--file` or `--flags-file` in its help."""
        for path, parser in leaves(build_parser()).items():
            visible = {
                option
                for action in parser._actions
                if action.help != argparse.SUPPRESS
                for option in action.option_strings
            }
            assert not visible & {"--file", "--flags-file", "--flag-file"}, path


class TestTheFileIsRead:
    def test_run_reads_the_file_given_by_flags(
        self, custom_flags: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout run --flags FILE --env custom` runs in an environment only FILE defines."""
        flags = ["--flags", str(custom_flags), "--env", "custom"]
        status = main(["run", *flags, "--language", "python", "--code", "return 7", "--json"])
        assert (status, json.loads(capsys.readouterr().out)["output"]) == (0, 7)

    def test_backends_reads_the_file_given_by_flags(
        self, custom_flags: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout backends --flags FILE --env custom` lists that environment's backends."""
        assert main(["backends", "--flags", str(custom_flags), "--env", "custom", "--json"]) == 0
        listing = json.loads(capsys.readouterr().out)
        assert (listing["environment"], listing["default"]) == ("custom", "local-subprocess")

    def test_flags_show_still_takes_the_old_file_spelling(
        self, custom_flags: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`flags show --file FILE`, the spelling before --flags, keeps working."""
        assert main(["flags", "show", "--file", str(custom_flags), "--env", "custom"]) == 0
        assert "environment custom" in capsys.readouterr().out

    def test_flags_validate_takes_flags_like_the_positional(
        self, custom_flags: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`flags validate --flags FILE` validates FILE, like `flags validate FILE`."""
        assert main(["flags", "validate", "--flags", str(custom_flags)]) == 0
        assert "custom" in capsys.readouterr().out
