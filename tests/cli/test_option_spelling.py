"""Every command spells a shared option the same way: one value name per option across
all commands (built-in and plugin), and one help text for `--flags`."""

from __future__ import annotations

import argparse
from collections import defaultdict

from ..docs.cli_reference import commands


def _value_names() -> dict[str, set[str]]:
    """Each long option that takes a value, with the value names its commands show."""
    found: dict[str, set[str]] = defaultdict(set)
    for _, parser in commands():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.nargs == 0 or isinstance(action, argparse._SubParsersAction):
                continue
            for option in action.option_strings:
                if option.startswith("--"):
                    found[option].add(formatter._format_args(action, action.dest.upper()))
    return found


def test_each_option_has_one_value_name_everywhere() -> None:
    """`--backend ID`, `--concurrency N`, `--flags FILE`, ... wherever they appear."""
    assert {option: names for option, names in _value_names().items() if len(names) > 1} == {}


def test_the_flag_file_option_says_the_same_everywhere() -> None:
    """Every command that reads a flag file explains `--flags` in the same words."""
    helps = {
        action.help
        for _, parser in commands()
        for action in parser._actions
        if "--flags" in action.option_strings
    }
    assert len(helps) == 1, helps
