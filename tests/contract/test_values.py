"""Tests for turnout.contract.values: which inputs a node gets and how they are encoded."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from turnout.contract.values import MAX_DEPTH, encode_json, select_inputs, validate_json_value
from turnout.errors import ValidationError


def nested_lists(depth: int) -> Any:
    """A value made of `depth` lists nested inside each other around a 1."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def rejected(context: object, input_variables: list[str] | None = None) -> ValidationError:
    """The ValidationError select_inputs raises for `context`."""
    with pytest.raises(ValidationError) as caught:
        select_inputs(context, input_variables or [])
    return caught.value


class TestSelectInputs:
    def test_empty_list_selects_everything(self) -> None:
        """An empty inputVariables list gives the node the whole context."""
        context = {"a": 1, "b": [2], "c": {"d": None}}
        assert select_inputs(context, []) == context

    def test_listed_keys_only(self) -> None:
        """With a list, only the listed keys are selected."""
        assert select_inputs({"a": 1, "b": 2, "c": 3}, ["a", "c"]) == {"a": 1, "c": 3}

    def test_missing_listed_keys_skipped(self) -> None:
        """Listed keys that the context does not have are left out, not errors."""
        assert select_inputs({"a": 1}, ["a", "absent"]) == {"a": 1}

    def test_no_listed_key_present(self) -> None:
        """When none of the listed keys exist, nothing is selected (not everything)."""
        assert select_inputs({"a": 1}, ["absent"]) == {}

    def test_result_is_a_new_dict(self) -> None:
        """The selection is a new dict, so changing it leaves the context alone."""
        context = {"a": 1}
        selected = select_inputs(context, [])
        selected["b"] = 2
        assert context == {"a": 1}

    def test_any_mapping_accepted(self) -> None:
        """A Mapping other than dict is accepted and returned as a plain dict."""
        selected = select_inputs(OrderedDict(a=1), [])
        assert selected == {"a": 1}
        assert type(selected) is dict

    def test_unselected_bad_value_ignored(self) -> None:
        """A non-JSON value under a key the node did not ask for is not inspected."""
        assert select_inputs({"a": 1, "b": {1, 2}}, ["a"]) == {"a": 1}

    def test_tuples_accepted(self) -> None:
        """Tuples are accepted as JSON arrays."""
        assert select_inputs({"a": (1, 2)}, []) == {"a": (1, 2)}

    @pytest.mark.parametrize("context", [[("a", 1)], "a", None, 3])
    def test_non_mapping_context_rejected(self, context: object) -> None:
        """A context that is not an object is refused on `context`."""
        assert rejected(context).field == "context"

    def test_non_string_key_rejected(self) -> None:
        """A context key that is not a string is refused, even when it is not selected."""
        error = rejected({"a": 1, 2: "b"}, ["a"])
        assert error.field == "context"
        assert "2" in error.problem

    @pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
    def test_non_finite_float_rejected_with_path(self, number: float) -> None:
        """NaN and infinities are refused, with the path of the value."""
        error = rejected({"data": {"values": [1.0, number]}})
        assert error.field == "context.data.values.1"
        assert error.allowed is not None

    @pytest.mark.parametrize(
        "value",
        [{1, 2}, frozenset(), object(), b"bytes", Decimal("1.5"), datetime(2024, 1, 1)],
    )
    def test_non_json_object_rejected_with_path(self, value: object) -> None:
        """Sets, bytes, decimals, dates and arbitrary objects are refused with their path."""
        error = rejected({"rows": [{"x": value}]})
        assert error.field == "context.rows.0.x"
        assert type(value).__name__ in error.problem

    def test_nested_non_string_key_rejected_with_path(self) -> None:
        """An inner object with a non-string key is refused at that object's path."""
        error = rejected({"data": {"inner": {1: "x"}}})
        assert error.field == "context.data.inner"

    def test_depth_at_limit_accepted(self) -> None:
        """A value nested exactly MAX_DEPTH levels deep is accepted."""
        assert select_inputs({"a": nested_lists(MAX_DEPTH)}, []) == {"a": nested_lists(MAX_DEPTH)}

    def test_depth_over_limit_rejected(self) -> None:
        """A value nested deeper than MAX_DEPTH levels is refused."""
        error = rejected({"a": nested_lists(MAX_DEPTH + 1)})
        assert error.field.startswith("context.a.0")
        assert str(MAX_DEPTH) in error.problem

    def test_very_deep_value_does_not_recurse(self) -> None:
        """A value far deeper than the recursion limit is refused cleanly, not by RecursionError."""
        assert rejected({"a": nested_lists(50_000)}).field.startswith("context.a")


class TestValidateJsonValue:
    @pytest.mark.parametrize("value", [None, True, 0, -5, 2**70, 1.5, "", "é😀", [], {}])
    def test_plain_json_accepted(self, value: object) -> None:
        """Every plain JSON scalar and empty container is accepted."""
        validate_json_value(value, "v")

    def test_path_prefix_used(self) -> None:
        """The path given is the prefix of the reported field."""
        with pytest.raises(ValidationError) as caught:
            validate_json_value({"k": [math.nan]}, "output")
        assert caught.value.field == "output.k.0"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec=None)),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(st.characters(codec=None)), children, max_size=5)
    ),
    max_leaves=30,
)


class TestEncodeJson:
    def test_compact(self) -> None:
        """The encoding has no spaces between tokens."""
        assert encode_json({"a": [1, 2], "b": None}) == b'{"a":[1,2],"b":null}'

    def test_ascii_only(self) -> None:
        """Non-ASCII text, emoji and lone surrogates are escaped to ASCII."""
        data = encode_json({"text": "é😀\ud800"})
        assert data.isascii()
        assert data == b'{"text":"\\u00e9\\ud83d\\ude00\\ud800"}'

    def test_nan_refused(self) -> None:
        """NaN is never written, since JSON has no such value."""
        with pytest.raises(ValueError, match="JSON compliant"):
            encode_json({"x": math.nan})

    def test_float_kept_as_float(self) -> None:
        """A float such as 3.0 keeps its decimal point."""
        assert encode_json(3.0) == b"3.0"

    @settings(max_examples=200, deadline=None)
    @given(json_values)
    @example("\ud800")
    @example({"\udfff": ["'''", '"\\\n', 10**30]})
    def test_round_trips_any_json(self, value: Any) -> None:
        """Any JSON value, surrogates included, decodes back to itself."""
        assert json.loads(encode_json(value)) == value

    @settings(max_examples=100, deadline=None)
    @given(json_values)
    def test_always_ascii(self, value: Any) -> None:
        """The encoding of any JSON value is pure ASCII."""
        assert encode_json(value).isascii()

    def test_selected_huge_integer_encodes_or_is_refused(self) -> None:
        """An integer beyond Python's str-conversion limit is encoded or refused by validation."""
        try:
            selected = select_inputs({"big": 10**5000}, [])
        except ValidationError:
            return
        assert json.loads(encode_json(selected)) == {"big": 10**5000}
