"""docs/cli-reference.md: every `turnout` command's `--help`, as the parser prints it.

The page is generated, never edited: `python3 dev.py cli-docs` writes it (this module, run
with `python -m tests.docs.cli_reference`), and tests/docs/test_cli_reference.py fails
while the page differs from what the parser prints, so the reference cannot go stale. The
help is rendered 100 columns wide whatever the terminal, so that the page is the same on
every machine. Plugin commands are included: the page is made where every plugin of this
repository is installed (`python3 dev.py sync`).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator
from pathlib import Path

from turnout.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "cli-reference.md"
WIDTH = 100

HEADER = """\
# `turnout` command reference

Every command's `--help`, generated from the parser by `python3 dev.py cli-docs`; a test
fails while this page differs from what the installed `turnout` prints, so edit the help
texts in the code, never this page. [cli.md](cli.md) explains the commands, with examples.
"""


def commands(
    parser: argparse.ArgumentParser | None = None, name: str = "turnout"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Each command's name (`turnout flags show`) and parser, depth first, in `--help` order."""
    parser = parser or build_parser()
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from commands(sub, f"{name} {sub_name}")


def help_text(parser: argparse.ArgumentParser) -> str:
    """The parser's `--help`, WIDTH columns wide (its formatter class is kept)."""
    parser.formatter_class = functools.partial(parser.formatter_class, width=WIDTH)
    return parser.format_help()


def render() -> str:
    """The whole page."""
    found = list(commands())
    sections = [HEADER, "\n".join(f"- [`{name}`](#{_anchor(name)})" for name, _ in found) + "\n"]
    for name, parser in found:
        sections.append(f"## `{name}`\n\n```text\n{help_text(parser).rstrip()}\n```\n")
    return "\n".join(sections)


def _anchor(name: str) -> str:
    """The heading's anchor as GitHub makes it: lower case, spaces to hyphens, no backticks."""
    return name.lower().replace(" ", "-")


def main() -> None:
    PAGE.write_text(render(), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
