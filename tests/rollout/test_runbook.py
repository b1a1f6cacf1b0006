"""docs/migration-runbook.md stays true: its flag snippets validate, its gates are the CLI's."""

from __future__ import annotations

import argparse
import re
from collections.abc import Collection
from pathlib import Path

import pytest

from turnout.cli import rollout as rollout_command
from turnout.flags import FlagFile, parse_flags
from turnout.registry import default_registry

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "migration-runbook.md"
TEXT = RUNBOOK.read_text(encoding="utf-8")
SNIPPETS = re.findall(r"```toml\n(.*?)```", TEXT, re.DOTALL)
THRESHOLD_ROWS = re.findall(r"^\| [^|]+ \| ([0-9.]+)[^|]* \| `(--gate-[a-z-]+)", TEXT, re.MULTILINE)


def as_file(snippet: str, known: Collection[str]) -> FlagFile:
    """A snippet as a whole flag file, validated as `turnout flags validate` would."""
    return parse_flags("schema_version = 1\n" + snippet, source=str(RUNBOOK), known_backends=known)


def report_defaults() -> dict[str, object]:
    """The defaults of `turnout rollout report`'s options, by flag."""
    parser = argparse.ArgumentParser(prog="turnout")
    rollout_command.register(parser.add_subparsers(dest="command"))
    arguments = parser.parse_args(["rollout", "report", "log"])
    return {f"--{key.replace('_', '-')}": value for key, value in vars(arguments).items()}


class TestFlagSnippets:
    def test_there_are_snippets(self) -> None:
        """The runbook has a flag snippet per step (so the next tests check something)."""
        assert len(SNIPPETS) >= 10

    @pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: s.splitlines()[-1][:40])
    def test_validates_against_the_installed_backends(self, snippet: str) -> None:
        """Every TOML snippet is a flag file `turnout flags validate` accepts."""
        assert as_file(snippet, default_registry().ids).environments

    def test_complete_validates_without_the_legacy_plugin(self) -> None:
        """The `complete` snippet is valid where local-subprocess is not installed."""
        [complete] = [s for s in SNIPPETS if 'stage = "complete"' in s]
        environment = next(iter(as_file(complete, ("e2b",)).environments.values()))
        assert not environment.legacy_may_load


class TestGateTable:
    def test_lists_every_gate_flag(self) -> None:
        """The thresholds table has a row for each `--gate-*` flag of the CLI."""
        flags = {flag for flag in report_defaults() if flag.startswith("--gate-")}
        assert {flag for _, flag in THRESHOLD_ROWS} == flags

    @pytest.mark.parametrize(("default", "flag"), THRESHOLD_ROWS)
    def test_defaults_are_the_cli_defaults(self, default: str, flag: str) -> None:
        """Each documented default is the CLI's default for that flag."""
        assert float(default) == report_defaults()[flag]
