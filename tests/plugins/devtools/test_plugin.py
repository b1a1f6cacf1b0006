"""The developer tools' plugin: it adds `turnout bench` and `turnout chaos` through the
`turnout` entry point, and adding them costs no more than their parsers."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from turnout.cli import build_parser

#: Modules of the tools' work: a command's run imports them, building its parser must not.
WORK = (
    "turnout_devtools.bench",
    "turnout_devtools.chaos.run",
    "turnout_devtools.chaos.report",
    "turnout_devtools.chaos.server",
    "turnout_devtools.html",
)


def test_both_commands_are_added_through_the_entry_point() -> None:
    """The full `turnout` parser (every plugin's commands) has `bench` and `chaos`."""
    actions = build_parser()._actions
    [commands] = [a.choices for a in actions if isinstance(a, argparse._SubParsersAction)]
    assert {"bench", "chaos"} <= set(commands)


def test_building_the_parser_imports_none_of_the_tools_work() -> None:
    """Every plugin command (`turnout serve`, `turnout worker`, `--help`) builds the parsers
    of bench and chaos: that loads neither the bench, nor the chaos run, report or
    server, nor the HTML pages."""
    probe = (
        "import json, sys\n"
        "from turnout.cli import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('turnout_devtools'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "turnout_devtools.plugin" in loaded
    assert [name for name in loaded if name.startswith(WORK)] == []
