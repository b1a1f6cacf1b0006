"""Hypothesis strategies for hostile input: JSON, almost-JSON and not-JSON-at-all values."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "EXAMPLES",
    "hostile_keys",
    "hostile_values",
    "json_values",
    "nested",
]

#: Examples per property: bounded, so the whole directory runs in well under a minute.
EXAMPLES = 300

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
"""Plain JSON (as Python values)."""

hostile_keys = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=10_000, max_value=50_000).map(lambda size: "k" * size),
    st.integers(),
    st.none(),
    st.booleans(),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.binary(max_size=8),
    st.floats(),
)
"""Dictionary keys a JSON object cannot have (and some huge ones it can)."""

_hostile_scalars = st.one_of(
    _scalars,
    st.floats(),  # NaN and the infinities
    st.integers(min_value=3000, max_value=5000).map(lambda digits: 10**digits),
    st.binary(max_size=16),
    st.complex_numbers(allow_nan=True),
    st.sets(st.integers(), max_size=3),
    st.frozensets(st.text(max_size=3), max_size=3),
    st.datetimes(),
    st.dates(),
    st.just(datetime.timedelta(seconds=1)),
    st.decimals(allow_nan=True),
    st.just(decimal.Decimal("NaN")),
    st.just(object()),
    st.just(Ellipsis),
    st.just(b"\xff\xfe"),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=3),
)
hostile_values = st.recursive(
    _hostile_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(hostile_keys, children, max_size=4),
    ),
    max_leaves=20,
)
"""Values that may or may not be JSON: sets, bytes, NaN, huge integers, odd keys, ..."""


def nested(depth: int, leaf: Any = 1, *, as_list: bool = False) -> Any:
    """`depth` levels of nesting around `leaf` (built without recursion)."""
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"k": value}
    return value
