"""Comments and docstrings explain the code as it is, never its history.

An issue number, a commit id or a calendar date in a comment describes how the code came
to be; that belongs in a commit message, and a measured figure with its date in docs/.
This scans every comment and every docstring (and bare string statement, such as an
attribute's docstring) of the Python files in src/ and plugins/*/src, and fails naming
each place. The few dates that are examples of what the code parses or prints are in
`ALLOWED`, each with its file.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What history looks like in a comment.
HISTORY = {
    "an issue or pull request number": re.compile(
        r"\b(?:issues?|pull request|PR)\s*#?\d+\b", re.IGNORECASE
    ),
    "a commit id": re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b"),
    "a calendar date": re.compile(
        r"\b(?:19|20)\d\d-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?(?!\d)"
        r"|\b(?:January|February|March|April|May|June|July|August|September|October"
        r"|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
        r"\s+(?:\d{1,2},\s+)?(?:19|20)\d\d\b"
    ),
}

#: Examples of what the code reads or writes, which a date in a docstring shows best:
#: (file relative to the repository, the exact text matched).
ALLOWED = {
    # the time readings mask_time recognises
    ("src/turnout/timemask.py", "2026-12-07"),
    # what a console log line looks like
    ("src/turnout/log_output.py", "2024-05-01"),
    # a divergence ledger entry, as the file is written
    ("src/turnout/conformance/ledger.py", "2025-01-31"),
    # the ISO 8601 date-time a case expectation accepts
    ("src/turnout/conformance/expectations.py", "2024-05-01"),
}

#: History in a module that another branch is rewriting at the same time; each entry goes
#: when that branch lands (the staleness test below fails until it is removed).
PENDING: set[tuple[str, str]] = set()


def source_files() -> list[Path]:
    """The Python files of turnout's distributions (src/ and every plugin's src/)."""
    roots = [ROOT / "src", *sorted((ROOT / "plugins").glob("*/src"))]
    return sorted(
        path for root in roots for path in root.rglob("*.py") if "node_modules" not in path.parts
    )


def prose(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every comment and every string that stands as a statement (module,
    class and function docstrings, attribute docstrings) in `source`."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            yield node.lineno, node.value.value


def history_in(relative: str, source: str) -> list[str]:
    """Each place in `source` whose prose names an issue, a commit or a date, not allowed."""
    found = []
    for line, text in prose(source):
        for what, pattern in HISTORY.items():
            for match in pattern.finditer(text):
                if (relative, match.group()) not in ALLOWED | PENDING:
                    at = line + text[: match.start()].count("\n")
                    found.append(f"{relative}:{at}: {what} ({match.group()!r})")
    return found


def test_no_comment_or_docstring_narrates_history() -> None:
    """No comment or docstring in src/ or plugins/*/src names an issue, a commit or a date."""
    found = [
        place
        for path in source_files()
        for place in history_in(path.relative_to(ROOT).as_posix(), path.read_text("utf-8"))
    ]
    assert not found, (
        "say what the code does and why, as it is; history goes into the commit message and "
        "measured figures into docs/:\n" + "\n".join(found)
    )


def test_every_allowed_example_is_still_there() -> None:
    """Each allowed or pending text still occurs in its file, so neither list goes stale."""
    stale = [
        f"{relative}: {text!r}"
        for relative, text in sorted(ALLOWED | PENDING)
        if not (ROOT / relative).is_file() or text not in (ROOT / relative).read_text("utf-8")
    ]
    assert not stale, f"not in the file any more (remove the entry): {stale}"


@pytest.mark.parametrize(
    "comment",
    [
        "# the bounds of issue 6",
        "# see issue #12",
        "# reverted in commit d78e1ee",
        "# measured before this warm-up (2026-11-26)",
        "# since March 2026",
    ],
)
def test_each_kind_of_history_is_found(comment: str) -> None:
    """A comment naming an issue, a commit id or a date is reported with its line."""
    assert history_in("example.py", f"x = 1\n{comment}\n") != []


@pytest.mark.parametrize(
    "comment",
    ["# the bounds the bench judges", "# 1024 bytes, 60 s", "# sha256 of the file, 0x7fffffff"],
)
def test_prose_without_history_passes(comment: str) -> None:
    """Plain explanation, sizes and hex constants are not mistaken for history."""
    assert history_in("example.py", f"x = 1\n{comment}\n") == []
