"""The `turnout` entry point itself: its version, and subcommands from plugins."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from turnout.cli import main


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`turnout --version` prints `turnout X.Y.Z` and exits 0."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"turnout {version('turnout')}\n"
