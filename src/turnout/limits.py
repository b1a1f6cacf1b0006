"""How deep and how big a node's config and a workflow context may be, checked before
anything recurses over them.

Why here, first: Python's JSON decoder, pydantic and `json.dumps` recurse once per level of
nesting, so a document nested 100,000 deep ends in a `RecursionError` (a crash, not an
answer) in whichever of them meets it first. These checks never recurse: the text check
measures the brackets outside strings in a few C-speed passes, the value check walks with
an explicit stack. Each failure
is a `ValidationError` that names the field, the limit and the measured value.

The limits (docs/contract.md, "Limits"):

- nesting: a value inside the config or the context may nest `MAX_DEPTH` (256) levels of
  arrays and objects, the same bound the contract applies to each input;
- size, as compact UTF-8 JSON: a config at most `MAX_CONFIG_BYTES` (4 MiB), a context at
  most `MAX_CONTEXT_BYTES` (64 MiB).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import accumulate
from typing import Final

from turnout.contract.values import MAX_DEPTH
from turnout.errors import ValidationError

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_CONTEXT_BYTES",
    "MAX_DEPTH",
    "check_json_text",
    "check_json_value",
    "describe_bytes",
]

MAX_CONFIG_BYTES: Final = 4 * 1024 * 1024
MAX_CONTEXT_BYTES: Final = 64 * 1024 * 1024

# Everything but quotes and brackets, deleted before the nesting is measured.
_NOT_QUOTE_OR_BRACKET = bytes(b for b in range(256) if b not in b'"[]{}')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def describe_bytes(count: int) -> str:
    """`67,108,864 bytes (64 MiB)`: exact, and readable."""
    mib = count / (1024 * 1024)
    return f"{count:,} bytes ({mib:g} MiB)" if mib >= 1 else f"{count:,} bytes"


def check_json_text(data: bytes, field: str, *, max_bytes: int) -> None:
    """Refuse JSON text that is bigger than `max_bytes` or nested deeper than `MAX_DEPTH`
    below its top-level value, before it is decoded. Malformed text is left to the
    decoder, which reports it with its position."""
    if len(data) > max_bytes:
        raise ValidationError(
            field,
            f"is over the size limit of {describe_bytes(max_bytes)}",
            f"JSON text of at most {describe_bytes(max_bytes)}",
        )
    depth = _nesting(data) - 1
    if depth > MAX_DEPTH:
        raise ValidationError(
            field,
            f"nests arrays and objects {depth:,} levels deep below the top level, over the "
            f"limit of {MAX_DEPTH}",
            f"at most {MAX_DEPTH} levels of nesting",
        )


def _nesting(data: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, brackets inside strings
    not counted. Only C-speed passes over the text: escaped backslashes, then escaped
    quotes are dropped (left to right, as JSON pairs them), so every quote left opens or
    closes a string; every other character but quotes and brackets is deleted; the pieces
    between quotes alternate outside and inside strings."""
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    pieces = unescaped.translate(None, _NOT_QUOTE_OR_BRACKET).split(b'"')
    brackets = b"".join(pieces[::2])
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_json_value(value: object, field: str, *, max_bytes: int) -> None:
    """Refuse a config or context (a mapping) whose values nest deeper than `MAX_DEPTH` or
    whose compact UTF-8 JSON would exceed `max_bytes`. Anything that is not a mapping, and
    values that are not JSON, are left to the validation that follows."""
    if not isinstance(value, Mapping):
        return
    # (value, depth, trail): the trail, (key, parent trail), is turned into a path only
    # for a message, so that walking a large context builds no strings.
    stack: list[tuple[object, int, Trail]] = [
        (child, 0, (key, None)) for key, child in value.items()
    ]
    size = 2 + sum(_scalar_size(key) + 2 for key in value)
    while stack:
        item, depth, trail = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                parts = _parts(trail)
                raise ValidationError(
                    f"{field}.{parts[0]}",
                    f"nests arrays and objects deeper than the limit of {MAX_DEPTH} levels "
                    f"(at {_shorten('.'.join([field, *parts]))})",
                    f"at most {MAX_DEPTH} levels of nesting",
                )
            size += 2 + len(item)
            if isinstance(item, Mapping):
                size += sum(_scalar_size(key) + 1 for key in item)
                stack.extend((child, depth + 1, (key, trail)) for key, child in item.items())
            else:
                stack.extend((child, depth + 1, (i, trail)) for i, child in enumerate(item))
        else:
            size += _scalar_size(item)
        if size > max_bytes:
            raise ValidationError(
                field,
                f"is over the size limit of {describe_bytes(max_bytes)} as JSON",
                f"at most {describe_bytes(max_bytes)} of compact JSON",
            )


Trail = tuple[object, "Trail"] | None


def _parts(trail: Trail) -> list[str]:
    """The keys and indexes from the top level down to the trail's end."""
    parts: list[str] = []
    while trail is not None:
        key, trail = trail
        parts.append(str(key))
    return parts[::-1]


def _scalar_size(item: object) -> int:
    """The length of `item` as compact UTF-8 JSON (escapes aside); 1 for what is not JSON."""
    if isinstance(item, str):
        return 2 + (len(item) if item.isascii() else len(item.encode("utf-8", "surrogatepass")))
    if item is None or item is True:
        return 4
    if item is False:
        return 5
    if isinstance(item, int):
        return 1 + item.bit_length() * 30103 // 100000  # decimal digits, without str()
    if isinstance(item, float):
        return len(repr(item))
    return 1


def _shorten(path: str, keep: int = 60) -> str:
    """A path that may be thousands of segments long, cut for a message."""
    return path if len(path) <= keep else f"{path[:keep]}..."
