"""Host-side JSON rules: what a context may contain, and how inputs are encoded.

Inputs travel as one JSON document, ASCII-escaped (so lone surrogates and every other code
point survive byte-exact), never spliced into program text. Values that JSON cannot carry
are refused here, before any backend is involved, with the path of the offending value.
The conversion of *outputs* happens inside the sandbox, in the runtimes next to this file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from turnout.errors import ValidationError

__all__ = ["MAX_DEPTH", "encode_json", "select_inputs", "validate_json_value"]

MAX_DEPTH = 256
MAX_INTEGER_BITS = 13_000  # about 3900 digits: Python refuses to print ints over 4300 digits


def select_inputs(context: object, input_variables: Sequence[str]) -> dict[str, Any]:
    """The context keys a node receives: all of them, or only the listed ones that exist."""
    if not isinstance(context, Mapping):
        raise ValidationError("context", f"must be a JSON object, got {type(context).__name__}")
    for key in context:
        if not isinstance(key, str):
            raise ValidationError("context", f"keys must be strings, found {key!r}")
    if input_variables:
        selected = {name: context[name] for name in input_variables if name in context}
    else:
        selected = dict(context)
    for key, value in selected.items():
        validate_json_value(value, f"context.{key}")
    return selected


def validate_json_value(value: object, path: str) -> None:
    """Raise `ValidationError` at the first place where `value` is not plain JSON."""
    stack: list[tuple[object, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, int) and item.bit_length() > MAX_INTEGER_BITS:
            raise ValidationError(
                where,
                "is an integer with more than 4000 digits",
                "integers up to 4000 digits; send very large numbers as strings",
            )
        if item is None or isinstance(item, str | bool | int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationError(
                    where, f"{item!r} is not a JSON number", "finite numbers; send null instead"
                )
            continue
        if depth >= MAX_DEPTH:
            raise ValidationError(where, f"is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValidationError(where, f"object keys must be strings, found {key!r}")
                stack.append((child, f"{where}.{key}", depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{where}.{i}", depth + 1) for i, child in enumerate(item))
        else:
            raise ValidationError(
                where,
                f"a {type(item).__name__} is not a JSON value",
                "objects, arrays, strings, numbers, booleans and null",
            )


def encode_json(value: object) -> bytes:
    """Compact ASCII JSON; the same bytes whatever the value holds (surrogates included)."""
    return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()
