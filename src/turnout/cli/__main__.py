"""`python -m turnout.cli`: the `turnout` command, for environments without its script."""

from turnout.cli import entry_point

entry_point()
