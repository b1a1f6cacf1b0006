"""JSON values told to a person: exact, type-strict equality and where two values differ."""

from __future__ import annotations

from turnout.json_diff import first_difference, same_json


class TestSameJson:
    def test_an_integer_is_not_a_float(self) -> None:
        """3 and 3.0 differ: callers reading JSON see different values."""
        assert not same_json(3, 3.0)

    def test_a_boolean_is_not_an_integer(self) -> None:
        """True and 1 differ, although Python says they are equal."""
        assert not same_json([1], [True])

    def test_key_order_does_not_matter(self) -> None:
        """JSON objects are unordered."""
        assert same_json({"a": 1, "b": 2}, {"b": 2, "a": 1})

    def test_the_first_difference_names_its_path(self) -> None:
        """A difference deep inside a value is reported with the path to it."""
        found = first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]})
        assert found == 'output["a"][1]["b"]: expected 2, got 3'

    def test_a_list_of_another_length_names_the_items_only_one_side_has(self) -> None:
        """A leak reported as a list names what leaked, not only how many items there were."""
        found = first_difference([], ["E2B_API_KEY", "TURNOUT_CONFORMANCE_CANARY"])
        assert found == (
            'output: expected 0 items, got 2: only got: "E2B_API_KEY", "TURNOUT_CONFORMANCE_CANARY"'
        )

    def test_long_strings_are_compared_at_the_first_differing_character(self) -> None:
        """A difference in a long string says where it starts instead of printing both."""
        found = first_difference("x" * 100 + "a", "x" * 100 + "b")
        assert found is not None
        assert "at character 100" in found
