"""docs/cli-reference.md is what the parser prints, and covers every command."""

from __future__ import annotations

from .cli_reference import PAGE, commands, render


def test_the_page_is_what_the_parser_prints() -> None:
    """The committed page equals a fresh rendering: a changed option or help text without
    `python3 dev.py cli-docs` fails here."""
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/cli-reference.md is stale: run `python3 dev.py cli-docs` and commit it"
    )


def test_every_command_has_a_section() -> None:
    """Built-in and plugin commands, and every subcommand, each have their own section."""
    names = [name for name, _ in commands()]
    text = PAGE.read_text(encoding="utf-8")
    assert {"turnout conformance", "turnout replay", "turnout e2b serve", "turnout worker"} <= set(
        names
    )
    assert [name for name in names if f"## `{name}`\n" not in text] == []
