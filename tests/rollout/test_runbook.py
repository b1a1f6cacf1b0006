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


SHIPPED = RUNBOOK.parents[1] / "feature_flags.toml"
DELETED_AT_COMPLETE = re.search(
    r"Also delete the keys that only concern legacy:(.*?) table\.", TEXT, re.DOTALL
)


def production_of(text: str) -> str:
    """The `[environments.production]` table of a flag file, up to its next header."""
    return text.split("[environments.production]\n", 1)[1].split("\n[", 1)[0]


class TestShippedFile:
    def test_its_first_steps_are_the_runbooks(self) -> None:
        """The shipped file's commented production steps, applied one edit at a time as its
        comment says, are the runbook's steps 3 and 4 and draw no warning."""
        table = production_of(SHIPPED.read_text(encoding="utf-8"))
        assert '# stage = "shadow"' in table
        assert "# rollout = { live = 1 }" in table
        step3 = table.replace('\nstage = "off"\n', "\n", 1).replace(
            '# stage = "shadow"', 'stage = "shadow"'
        )
        step4 = step3.replace("# rollout = { live = 1 }", "rollout = { live = 1 }")
        known = default_registry().ids
        for table_now, ranges in (
            (step3, (("shadow", 1, 100),)),
            (step4, (("live", 1, 1), ("shadow", 2, 100))),
        ):
            environment = as_file(f"[environments.production]\n{table_now}", known).environment(
                "production"
            )
            assert environment.stage_ranges == ranges
            assert environment.warnings() == []
        assert '| 3 | production | `shadow` | `stage = "shadow"` |' in TEXT
        assert "| 4 | production | `live` 1% | `rollout = { live = 1 }` |" in TEXT


class TestCompleteStep:
    def test_deleting_the_listed_keys_leaves_legacy_unloadable(self) -> None:
        """Step 9's list of keys to delete, applied to a table that sets every one of them
        (overrides included), leaves an environment where legacy may not load."""
        assert DELETED_AT_COMPLETE is not None
        listed = set(re.findall(r"`([a-z_]+)`", DELETED_AT_COMPLETE.group(1)))
        table = {
            "legacy_backend": '"local-subprocess"',
            "target_backend": '"e2b"',
            "stage": '"complete"',
            "fallback_to_legacy": "true",
            "shadow_sample_percent": "10",
            "shadow_workflows": '["wf-invoice-format"]',
            "shadow_ignore": '["$.metadata.executionTime"]',
            "overrides": '{ tenants = { "tenant-internal" = "live" } }',
        }
        kept = "\n".join(f"{key} = {value}" for key, value in table.items() if key not in listed)
        environment = as_file(f"[environments.production]\n{kept}", ("e2b",)).environment(
            "production"
        )
        assert not environment.legacy_may_load
        assert environment.warnings() == []
