"""Tests for turnout.field_errors: pydantic's report in turnout's words, one line per field."""

from __future__ import annotations

from typing import Literal

import pydantic
import pytest
from pydantic import BaseModel, ConfigDict, Field

from turnout.errors import ValidationError
from turnout.field_errors import FieldProblem, field_problems, known_keys, suggestion, summarize
from turnout.models import parse_config


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    pool_size: int = Field(default=0, ge=0, le=10)
    memory_mb: int = 512


class Outer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1)
    mode: Literal["auto"] | bool = "auto"
    colour: Literal["red", "green", "blue"] = "red"
    tables: dict[str, Inner] = Field(default_factory=dict)
    items: list[str] = Field(default_factory=list)
    input_variables: list[str] = Field(default_factory=list, alias="inputVariables")


def problems(data: object, **options: object) -> list[FieldProblem]:
    """The problems of validating `data` against Outer (which must be invalid)."""
    with pytest.raises(pydantic.ValidationError) as caught:
        Outer.model_validate(data)
    return field_problems(caught.value, schema=Outer, **options)  # type: ignore[arg-type]


def only(data: object, **options: object) -> str:
    """The one problem reported for `data`, as `path: message`."""
    [problem] = problems(data, **options)
    return str(problem)


class TestMessages:
    def test_unknown_key_suggests_the_closest_known_key(self) -> None:
        """An unknown key is named, with the existing key it most likely meant."""
        assert only({"name": "x", "nmae": "y"}) == "nmae: unknown key (did you mean 'name'?)"

    def test_unknown_key_in_a_nested_table_suggests_from_that_table(self) -> None:
        """Inside a table of models, the suggestion comes from that model's keys."""
        text = only({"name": "x", "tables": {"a": {"pool_sise": 4}}})
        assert text == "tables.a.pool_sise: unknown key (did you mean 'pool_size'?)"

    def test_unknown_key_far_from_every_key_gets_no_suggestion(self) -> None:
        """Nothing is suggested when no key is close."""
        assert only({"name": "x", "zzzzzz": 1}) == "zzzzzz: unknown key"

    def test_missing_field_is_required(self) -> None:
        """A missing required field says so."""
        assert only({}) == "name: is required"

    def test_wrong_type_names_what_it_must_be_and_what_it_is(self) -> None:
        """A wrong type says the expected kind and the kind given."""
        assert only({"name": 5}) == "name: must be a string, not an integer"

    def test_empty_string_must_not_be_empty(self) -> None:
        """A min_length of 1 reads as 'must not be empty'."""
        assert only({"name": ""}) == "name: must not be empty"

    def test_range_bounds_are_plain_words(self) -> None:
        """ge / le bounds read 'at least' / 'at most'."""
        text = only({"name": "x", "tables": {"a": {"pool_size": 11}}})
        assert text == "tables.a.pool_size: must be at most 10"

    def test_choice_lists_the_choices_and_suggests_one(self) -> None:
        """A misspelt choice lists the choices and names the likely one."""
        assert only({"name": "x", "colour": "gren"}) == (
            "colour: must be one of 'red', 'green' or 'blue', not 'gren' (did you mean 'green'?)"
        )

    def test_union_alternatives_are_one_problem(self) -> None:
        """The members of a union are reported as one problem without pydantic's tags."""
        assert only({"name": "x", "mode": "yes"}) == (
            "mode: must be 'auto' or a boolean (true or false), not a string"
        )

    def test_list_items_are_located_by_index(self) -> None:
        """An item of a list is located by its index."""
        assert only({"name": "x", "items": ["a", 3]}) == (
            "items.1: must be a string, not an integer"
        )

    def test_alias_is_the_name_shown(self) -> None:
        """A field with an alias is named as the input spells it."""
        assert only({"name": "x", "inputVariables": [1]}).startswith("inputVariables.0:")

    def test_prefix_places_the_problem_in_a_larger_document(self) -> None:
        """`prefix` is put in front of every path."""
        text = only({"name": 5}, prefix=("environments", "prod"))
        assert text.startswith("environments.prod.name: ")

    def test_reword_replaces_a_message(self) -> None:
        """A caller's wording replaces turnout's for the problems it chooses."""

        def reword(problem: FieldProblem) -> str | None:
            return "is not a colour" if problem.kind == "literal_error" else None

        assert only({"name": "x", "colour": "pink"}, reword=reword) == "colour: is not a colour"

    def test_no_pydantic_text_or_link(self) -> None:
        """pydantic's own phrasing and documentation link never appear."""
        text = summarize(problems({"name": 5, "colour": 1, "tables": {"a": {"memory_mb": "x"}}}))
        assert "errors.pydantic.dev" not in text
        assert "Input should" not in text

    def test_a_value_of_the_wrong_type_is_never_repeated(self) -> None:
        """A value in a field of the wrong type is named by its kind only: it may be a
        secret pasted into the wrong place."""
        secret = "e2b_0123456789abcdef0123456789abcdef"
        text = summarize(problems({"name": "x", "tables": {"a": {"memory_mb": secret}}}))
        assert text == "tables.a.memory_mb: must be an integer, not a string"

    def test_long_choices_are_shortened(self) -> None:
        """A long misspelt choice is cut, so a message stays one readable line."""
        text = only({"name": "x", "colour": "r" * 500})
        assert len(text) < 150
        assert text.endswith("...")


class TestHelpers:
    def test_summarize_joins_problems(self) -> None:
        """summarize puts every problem on one line."""
        joined = summarize([FieldProblem(("a",), "x"), FieldProblem((), "y")])
        assert joined == "a: x; y"

    def test_suggestion_only_for_close_words(self) -> None:
        """suggestion names a close choice and nothing otherwise."""
        assert suggestion("memroy_mb", ["memory_mb", "pids_max"]) == " (did you mean 'memory_mb'?)"
        assert suggestion("qqq", ["memory_mb"]) == ""

    def test_known_keys_follow_the_path(self) -> None:
        """known_keys lists a nested model's keys, aliases as spelt in the input."""
        assert known_keys(Outer, ["tables", "any"]) == ["pool_size", "memory_mb"]
        assert "inputVariables" in known_keys(Outer)
        assert known_keys(Outer, ["items"]) == []


class TestUnprintableValues:
    def test_an_integer_too_long_to_print_is_named_by_its_kind(self) -> None:
        """A value whose repr raises (an integer of more than 4,300 digits) is described by
        its kind instead of crashing the formatter."""
        with pytest.raises(ValidationError, match="an integer"):
            parse_config({"language": 10**4300, "code": "return 1"})
