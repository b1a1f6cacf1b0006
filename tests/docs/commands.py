"""The command lines README.md and docs/ show, as a reader would copy them.

A command line is a line of a fenced shell block (no language, `sh`, `bash`, `shell` or
`console`) that runs `turnout`, `.venv/bin/turnout`, `python3 dev.py` or `pytest`, possibly
after `NAME=value` assignments or a pipe. In a block that shows `$ ` prompts, only prompted
lines are commands and the lines after one are its output. Lines continued with `\\` are
joined, trailing `# comments` dropped.

A line with placeholders (`[--json]`, `FILE`, `{a,b}`, `...`) is a *synopsis*: it cannot be
run, but every subcommand and option it names can be checked against the real parser; so
can the `turnout ...` spans of the prose.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = (ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")))
SHELL_LANGUAGES = frozenset({"", "sh", "bash", "shell", "console"})
SEPARATORS = frozenset({"|", "||", "&&", ";", "&"})
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w-]*)")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PLACEHOLDER = re.compile(r"^\[|\]$|^\{.*\}$|\.\.\.|^[A-Z][A-Z0-9_]*$")
_INLINE = re.compile(r"`((?:\.venv/bin/)?turnout [a-z][^`]*)`")


@dataclass
class CommandLine:
    """One documented command line, and where it is shown."""

    text: str
    places: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    """The lines shown after it in a `$ ` block (its documented output)."""

    @property
    def synopsis(self) -> bool:
        return any(_PLACEHOLDER.search(token) for token in turnout_words(self.text))


def words(text: str) -> list[str]:
    """Shell words of `text` with separators (`|`, `;`, `&&`) as words of their own."""
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        return list(lexer)
    except ValueError:  # unbalanced quotes in a synopsis
        return text.split()


def program_at(tokens: list[str], index: int) -> str | None:
    """The documented program starting at `index`, if any."""
    word = tokens[index]
    if word in ("turnout", ".venv/bin/turnout", "pytest"):
        return word
    if word == "python3" and tokens[index + 1 : index + 2] == ["dev.py"]:
        return "python3 dev.py"
    return None


def command_starts(tokens: list[str]) -> Iterator[int]:
    """Indexes where a command starts: the first word after assignments, and after each
    separator."""
    expect = True
    for index, token in enumerate(tokens):
        if token in SEPARATORS:
            expect = True
        elif expect and _ASSIGNMENT.match(token):
            continue
        elif expect:
            expect = False
            yield index


def documented_program(text: str) -> str | None:
    """The first documented program the line runs, or None for any other line."""
    tokens = words(text)
    for start in command_starts(tokens):
        program = program_at(tokens, start)
        if program is not None:
            return program
    return None


def turnout_segment(text: str) -> str:
    """The part of a pipeline that runs turnout (for a line whose other parts need a
    cluster): from the `turnout` word to the next separator, as shell text."""
    tokens = words(text)
    for start in command_starts(tokens):
        if program_at(tokens, start) in ("turnout", ".venv/bin/turnout"):
            end = next((i for i in range(start, len(tokens)) if tokens[i] in SEPARATORS), None)
            return shlex.join(tokens[start:end])
    raise AssertionError(f"no turnout command in {text!r}")


def turnout_words(text: str) -> list[str]:
    """The words of the turnout command of the line (whitespace split, so that placeholders
    survive; `;` is a word of its own), from `turnout` on; empty for another program."""
    tokens = re.findall(r"[^\s;]+|;", text)
    for index, token in enumerate(tokens):
        if token in ("turnout", ".venv/bin/turnout") and (
            index == 0 or tokens[index - 1] in SEPARATORS or _ASSIGNMENT.match(tokens[index - 1])
        ):
            return tokens[index : _end_of_command(tokens, index)]
    return []


def _end_of_command(tokens: list[str], start: int) -> int | None:
    """Where the command starting at `start` ends: at a separator, unless it is inside
    a synopsis's brackets (`[FILE | --flags FILE]`: there `|` means "or")."""
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token in SEPARATORS and depth == 0:
            return index
        depth += token.count("[") + token.count("{") - token.count("]") - token.count("}")
    return None


def strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a `#` outside quotes, after a space)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def fenced_blocks(page: Path) -> Iterator[tuple[str, int, list[str]]]:
    """(language, line number of the first line, lines) of each fenced block of `page`."""
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, language = opening.groups()
        body_start = index + 1
        index = body_start
        while index < len(lines) and not lines[index].strip().startswith(fence):
            index += 1
        yield language.lower(), body_start + 1, lines[body_start:index]
        index += 1


def _logical_lines(lines: list[str]) -> Iterator[tuple[int, str, bool]]:
    """(offset, text, prompted) per logical line, `\\` continuations joined."""
    index = 0
    while index < len(lines):
        start, line = index, lines[index]
        while line.rstrip().endswith("\\") and index + 1 < len(lines):
            index += 1
            line = line.rstrip()[:-1].rstrip() + " " + lines[index].strip()
        prompted = line.startswith("$ ")
        yield start, line[2:] if prompted else line, prompted
        index += 1


def documented_commands(pages: tuple[Path, ...] = PAGES) -> dict[str, CommandLine]:
    """Every command line of the fenced shell blocks of `pages`, by text."""
    found: dict[str, CommandLine] = {}
    for page in pages:
        name = page.relative_to(ROOT).as_posix()
        for language, first, lines in fenced_blocks(page):
            if language not in SHELL_LANGUAGES:
                continue
            prompts = any(line.startswith("$ ") for line in lines)
            current: CommandLine | None = None
            for offset, line, prompted in _logical_lines(lines):
                if prompts and not prompted:
                    if current is not None:
                        current.output.append(line)
                    continue
                text = strip_comment(line).strip()
                current = None
                if text and documented_program(text) is not None:
                    current = found.setdefault(text, CommandLine(text))
                    current.places.append(f"{name}:{first + offset}")
                    current.output.clear()
    return found


def inline_commands(pages: tuple[Path, ...] = PAGES) -> dict[str, list[str]]:
    """Every `turnout ...` code span of the prose (outside fenced blocks): text -> places."""
    found: dict[str, list[str]] = {}
    for page in pages:
        name = page.relative_to(ROOT).as_posix()
        fenced = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            if _FENCE.match(line):
                fenced = not fenced
                continue
            if not fenced:
                for match in _INLINE.finditer(line):
                    found.setdefault(match.group(1), []).append(f"{name}:{number}")
    return found


def unknown_names(tokens: list[str], root: argparse.ArgumentParser) -> list[str]:
    """The options of a turnout command (or synopsis) that its parser does not have."""
    parser = root
    rest = [token.strip("[]{}(),;") for token in tokens[1:]]
    while rest:
        choices = _subcommands(parser)
        if rest[0] not in choices:
            break
        parser = choices[rest.pop(0)]
    known = {option for action in parser._actions for option in action.option_strings}
    known |= {option for action in root._actions for option in action.option_strings}
    unknown = []
    for token in rest:
        option = token.split("=", 1)[0]
        if not option.startswith("--") or option == "--":
            continue
        if option.endswith("..."):  # `--gate-...`: a family of options
            if not any(name.startswith(option.rstrip(".")) for name in known):
                unknown.append(option)
        elif option not in known:
            unknown.append(option)
    return unknown


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}
