"""Shadow comparison ignore rules: JSON-path-like patterns over a result envelope.

A rule names a place in the envelope whose differences are counted as *ignored* rather than
as mismatches (timings, ids, anything known to differ between backends for a good reason).
The flag file only parses and validates them here, so a typo fails at load time instead of
silently ignoring nothing; the migration layer's comparison applies them with `matches`.

Grammar (a small subset of JSONPath, see docs/flags.md):

    $                 the envelope (must start every rule; `$` alone is refused)
    .name             a key: letters, digits, `_` and `-`
    ["name"] ['name'] a key with any other characters
    [3]               a list index
    .*  [*]           any one key or index
    ..name  ..*       the key at any depth below (zero or more levels skipped)

A rule matches a difference at its path *or anywhere below it*: `$.metadata` ignores every
difference inside `metadata`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["IgnoreRule", "PathSegment", "parse_ignore_rule"]

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_BRACKET = re.compile(r"\[(?:(\d+)|\*|\"([^\"]*)\"|'([^']*)')\]")


@dataclass(frozen=True, slots=True)
class PathSegment:
    """One step of a rule: a key, an index, or any (`None`); `descendant` skips levels."""

    key: str | int | None
    descendant: bool = False

    def accepts(self, element: str | int) -> bool:
        """Whether this step matches one element of a difference's path."""
        if self.key is None:
            return True
        # bool is an int subclass; a path element is never a bool, but be exact anyway.
        return type(element) is type(self.key) and element == self.key


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """A parsed rule; `pattern` is the text as written in the flag file."""

    pattern: str
    segments: tuple[PathSegment, ...]

    def matches(self, path: Sequence[str | int]) -> bool:
        """Whether a difference at `path` (keys and list indices from the root) is ignored."""
        return _match(self.segments, 0, path, 0)


def _match(segments: tuple[PathSegment, ...], s: int, path: Sequence[str | int], p: int) -> bool:
    if s == len(segments):
        return True  # the rule's place is reached: everything below it is ignored too
    segment = segments[s]
    if not segment.descendant:
        return p < len(path) and segment.accepts(path[p]) and _match(segments, s + 1, path, p + 1)
    return any(
        segment.accepts(path[q]) and _match(segments, s + 1, path, q + 1)
        for q in range(p, len(path))
    )


def parse_ignore_rule(pattern: str) -> IgnoreRule:
    """Parse one rule; a `ValueError` says what is wrong and at which character."""
    if not pattern.startswith("$"):
        raise ValueError(f"ignore rule {pattern!r} must start with '$' (the envelope)")
    segments: list[PathSegment] = []
    position = 1
    while position < len(pattern):
        segment, position = _segment(pattern, position)
        segments.append(segment)
    if not segments:
        raise ValueError("ignore rule '$' would ignore every difference; name a part of it")
    return IgnoreRule(pattern, tuple(segments))


def _segment(pattern: str, position: int) -> tuple[PathSegment, int]:
    descendant = pattern.startswith("..", position)
    if pattern.startswith(".", position):
        position += 2 if descendant else 1
        if pattern.startswith("*", position):
            return PathSegment(None, descendant), position + 1
        name = _NAME.match(pattern, position)
        if name:
            return PathSegment(name.group(0), descendant), name.end()
        if not descendant or not pattern.startswith("[", position):
            raise ValueError(
                f"ignore rule {pattern!r}: expected a key name or '*' at character "
                f'{position + 1} (quote other keys as ["..."])'
            )
    bracket = _BRACKET.match(pattern, position)
    if bracket is None:
        raise ValueError(
            f"ignore rule {pattern!r}: unexpected {pattern[position : position + 1]!r} at "
            f'character {position + 1}; expected .name, [index], ["name"], [*] or ..name'
        )
    index, double, single = bracket.groups()
    key: str | int | None
    if index is not None:
        key = int(index)
    elif double is not None:
        key = double
    else:
        key = single  # None for [*]
    return PathSegment(key, descendant), bracket.end()
