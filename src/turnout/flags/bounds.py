"""Size and nesting bounds on a flag file, checked on its text before TOML parsing.

Why before: `tomllib` recurses once per nested array or inline table (100,000 of them end
in a `RecursionError`), and a long dotted key (`a.a.a...`, 20,000 levels in 43 KB) costs
it gigabytes and seconds before any validation can refuse it. A flag file is a few
kilobytes of shallow tables, so the bounds are far from anything real:

- `MAX_FLAG_FILE_BYTES` (1 MiB) of text;
- `MAX_FLAG_NESTING` (32) levels of key path: table headers, dotted keys, inline tables and
  arrays counted together (`[environments.production.backends.e2b]` + `pool_size` is 5).

The scan is one pass over tokens (strings and comments skipped whole, so brackets and dots
inside them do not count), with no recursion. It is a bound, not a parser: malformed TOML
passes it and is reported by the parser with its position.

Flags given as data (`Client(flags={...})`) are held to the same nesting bound by
`check_data_nesting`, a walk with an explicit stack, before anything recurses over them:
a mapping nested 100,000 deep, or one that contains itself, is refused at its key path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "MAX_FLAG_FILE_BYTES",
    "MAX_FLAG_NESTING",
    "FlagDataBoundError",
    "FlagFileBoundError",
    "check_bounds",
    "check_data_nesting",
]

MAX_FLAG_FILE_BYTES: Final = 1024 * 1024
MAX_FLAG_NESTING: Final = 32

# Every alternative that starts at a quote matches (an unterminated string runs to the end
# of its line, or of the text), and no quantifier backtracks (`*+`): one linear pass
# whatever the text, such as a megabyte of `"\"\"\"...` on one line.
_TOKEN = re.compile(
    r'"""(?:[^"\\]|\\[\s\S]?|"(?!""))*+(?:"{3,5}|\Z)'  # multi-line basic string
    r"|'''(?:[^']|'(?!''))*+(?:'{3,5}|\Z)"  # multi-line literal string
    r'|"(?:[^"\\\n]|\\[^\n]?)*+(?:"|$)'  # basic string
    r"|'[^'\n]*+(?:'|$)"  # literal string
    r"|#[^\n]*+"  # comment
    r"|[\[\]{}=,.]|\n+",  # structure; a run of newlines is one token
    re.MULTILINE,
)


class FlagFileBoundError(Exception):
    """The text is over a bound: `line` (1-based) is where, `message` says which."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class FlagDataBoundError(Exception):
    """Flags given as data nest too deeply: `key_path` is where (shortened), `message` says
    which limit."""

    def __init__(self, key_path: str, message: str) -> None:
        super().__init__(message)
        self.key_path = key_path
        self.message = message


def check_data_nesting(data: Mapping[Any, Any]) -> None:
    """Raise `FlagDataBoundError` if a value of `data` sits deeper than `MAX_FLAG_NESTING`
    levels of key path (mapping keys and sequence indexes, as a file's keys and arrays).

    Depth first with an explicit stack, so a self-containing mapping is refused after
    `MAX_FLAG_NESTING` steps instead of looping."""
    stack: list[tuple[object, int, _Trail]] = [
        (value, 1, (key, None)) for key, value in data.items()
    ]
    while stack:
        value, level, trail = stack.pop()
        if level > MAX_FLAG_NESTING:
            raise FlagDataBoundError(
                _key_path(trail),
                f"goes past the nesting limit of {MAX_FLAG_NESTING} levels for flags "
                "(mappings and sequences count together, as tables and arrays do in a file)",
            )
        if isinstance(value, Mapping):
            stack.extend((item, level + 1, (key, trail)) for key, item in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((item, level + 1, (index, trail)) for index, item in enumerate(value))


_Trail = tuple[object, "_Trail"] | None


def _key_path(trail: _Trail, keep: int = 80) -> str:
    """The dotted key path of `trail` from the top level, cut to `keep` characters."""
    parts: list[str] = []
    while trail is not None:
        key, trail = trail
        parts.append(str(key))
    path = ".".join(reversed(parts))
    return path if len(path) <= keep else f"{path[:keep]}..."


def check_bounds(text: str) -> None:
    """Raise `FlagFileBoundError` if `text` is over the size or nesting bound."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FLAG_FILE_BYTES:
        line = text.count("\n", 0, MAX_FLAG_FILE_BYTES) + 1
        raise FlagFileBoundError(
            line,
            f"the flag file is {size:,} bytes, over the limit of {MAX_FLAG_FILE_BYTES:,} "
            "bytes (1 MiB)",
        )
    _NestingScan(text).run()


class _NestingScan:
    """Tracks the key-path level of every key and value as the tokens go by.

    `stack` holds one entry per open array or inline table: its kind and the level of what
    is inside it. Outside any, keys start at the level of the last table header.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.stack: list[tuple[str, int]] = []
        self.header_level = 0
        self.in_header = False
        self.header_parts = 0
        self.expect_key = True  # at the start of a line, or after `{` or `,` in a table
        self.key_parts = 1
        self.value_level = 0

    def run(self) -> None:
        for match in _TOKEN.finditer(self.text):
            token = match.group()
            if token[0] == "\n":
                if not self.stack:
                    self._start_key()
            elif token[0] in "#\"'":
                continue  # a comment, or a string (a quoted key is one part, like a bare one)
            elif token == ".":
                if self.in_header or self.expect_key:
                    self._dot(match.start())
            elif token == "=":
                self._value(match.start())
            else:
                self._bracket(token, match.start())

    def _start_key(self) -> None:
        self.expect_key, self.key_parts = True, 1

    def _dot(self, position: int) -> None:
        if self.in_header:
            self.header_parts += 1
            self._check(self.header_parts, position, "this table header")
        else:
            self.key_parts += 1
            self._check(self._key_base() + self.key_parts, position, "this dotted key")

    def _value(self, position: int) -> None:
        if self.expect_key:
            self.value_level = self._key_base() + self.key_parts
            self._check(self.value_level, position, "this key")
            self.expect_key = False

    def _key_base(self) -> int:
        return self.stack[-1][1] if self.stack else self.header_level

    def _bracket(self, token: str, position: int) -> None:
        if token == "[" and not self.stack and self.expect_key:
            self.in_header, self.header_parts = True, 1  # `[table]` or `[[array.of.tables]]`
        elif token == "]" and self.in_header:
            self.header_level, self.in_header = self.header_parts, False
        elif token in "[{":
            level = self._element_level() + (1 if token == "[" else 0)
            self._check(level, position, "this array or inline table")
            self.stack.append((token, level))
            if token == "{":
                self._start_key()
        elif token in "]}":
            if self.stack:
                self.stack.pop()
            self.expect_key = False
        elif token == "," and self.stack and self.stack[-1][0] == "{":
            self._start_key()

    def _element_level(self) -> int:
        """The level of a value opened here: the key's, or inside an array the array's."""
        if self.stack and self.stack[-1][0] == "[":
            return self.stack[-1][1]
        return self.value_level

    def _check(self, level: int, position: int, what: str) -> None:
        if level > MAX_FLAG_NESTING:
            line = self.text.count("\n", 0, position) + 1
            raise FlagFileBoundError(
                line,
                f"{what} goes past the nesting limit of {MAX_FLAG_NESTING} levels for a flag "
                "file (table headers, dotted keys, inline tables and arrays count together)",
            )
