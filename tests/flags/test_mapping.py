"""Tests for flags given as data (`flags_from_mapping`): the file's schema and rules, the
file's messages, located by key path instead of a line."""

from __future__ import annotations

import tomllib
from types import MappingProxyType

import pytest

from turnout.client import Client
from turnout.flags import MAPPING_SOURCE, FlagFileError, Problem, flags_from_mapping, parse_flags
from turnout.flags.bounds import MAX_FLAG_NESTING
from turnout.registry import default_registry

from .support import KNOWN, document

#: Invalid environments, each with at least one problem the file reports.
INVALID = [
    "legacy_allowed = true",
    'stage = "liv"',
    'stage = "off"\nrollout = { live = 101 }',
    'stage = "off"\nrollout = { live = 60, shadow = 50 }',
    'stage = "off"\nrollout = { off = 10, live = 10 }',
    'stage = "off"\nrollout = { liv = 10 }',
    'stage = "shadow"\nshadow_sample_percent = 10.5',
    'stage = "off"\nlegacy_backend = "local"',
    'stage = "off"\nlegacy_backend = "e2b"',
    'stage = "off"\nbackend = "e2b"',
    'stage = "off"\nbucket_by = ["tenant", "user"]',
    'stage = "off"\nbucket_by = ["tenant", "tenant"]',
    'stage = "off"\nshadow_ignore = ["$.[oops"]',
    'stage = "off"\noverrides = { tenants = { acme = "on" } }',
    'stage = "off"\nrollout_group = ""',
]


def file_problems(text: str) -> tuple[Problem, ...]:
    with pytest.raises(FlagFileError) as caught:
        parse_flags(text, source="flags.toml", known_backends=KNOWN)
    return caught.value.problems


def mapping_problems(text: str) -> tuple[Problem, ...]:
    with pytest.raises(FlagFileError) as caught:
        flags_from_mapping(tomllib.loads(text), known_backends=KNOWN)
    return caught.value.problems


@pytest.mark.parametrize("body", INVALID)
def test_the_same_problems_with_the_same_messages(body: str) -> None:
    """The data of an invalid file gets the file's problems, key paths and messages."""
    text = document(body)
    expected = sorted((problem.key_path, problem.message) for problem in file_problems(text))
    found = mapping_problems(text)
    assert sorted((problem.key_path, problem.message) for problem in found) == expected
    assert {(problem.source, problem.line) for problem in found} == {(MAPPING_SOURCE, None)}


def test_options_tables_get_the_files_checks() -> None:
    """With the backends' options models, data and file report the same options problems
    (a typo with its suggestion, a value of the wrong type)."""
    text = document(
        'stage = "off"\n[environments.prod.backends.e2b]\npool_sise = 4\nmax_wait_s = "x"'
    )
    models = default_registry().option_models
    with pytest.raises(FlagFileError) as from_file:
        parse_flags(text, source="flags.toml", known_backends=KNOWN, option_models=models)
    with pytest.raises(FlagFileError) as from_data:
        flags_from_mapping(tomllib.loads(text), known_backends=KNOWN, option_models=models)
    expected = [(p.key_path, p.message) for p in from_file.value.problems]
    assert [(p.key_path, p.message) for p in from_data.value.problems] == expected
    assert (
        "environments.prod.backends.e2b.pool_sise",
        "unknown key (did you mean 'pool_size'?)",
    ) in (expected)


def test_a_problem_reads_as_source_key_path_message() -> None:
    """A problem is written `<flags>: key.path: message`, with no line."""
    [problem] = mapping_problems(document('stage = "liv"'))
    assert str(problem).startswith("<flags>: environments.prod.stage: 'liv' is not a stage")


def test_valid_data_gives_the_files_flags() -> None:
    """Valid data gives the flags the same file gives, with `<flags>` as their source."""
    text = document('stage = "off"\nrollout = { live = 10 }\nbucket_by = ["tenant"]')
    from_data = flags_from_mapping(tomllib.loads(text), known_backends=KNOWN)
    from_file = parse_flags(text, known_backends=KNOWN)
    assert from_data.model_dump() == from_file.model_dump()
    assert from_data.source == MAPPING_SOURCE


def test_any_mapping_and_tuples_are_taken_as_tables_and_arrays() -> None:
    """A read-only mapping and a tuple are accepted where TOML gives a table and a list."""
    data = MappingProxyType(
        {
            "schema_version": 1,
            "environments": {"prod": MappingProxyType({"stage": "off", "bucket_by": ("tenant",)})},
        }
    )
    assert flags_from_mapping(data).environment("prod").bucket_by == ["tenant"]


def test_something_else_than_a_mapping_is_refused() -> None:
    """A list is not flags: one problem saying what was given."""
    with pytest.raises(FlagFileError, match="must be a mapping, got list"):
        flags_from_mapping([])  # type: ignore[arg-type]


def nested(depth: int) -> dict[str, object]:
    """Flags whose `note` value nests `depth` mappings, built without recursion."""
    value: dict[str, object] = {}
    for _ in range(depth):
        value = {"a": value}
    return {"schema_version": 1, "environments": {"prod": {"stage": "off", "note": value}}}


def test_100000_nested_mappings_are_one_problem_naming_the_limit() -> None:
    """Data nested 100,000 deep (a RecursionError before) is one problem at its key path."""
    with pytest.raises(FlagFileError) as caught:
        flags_from_mapping(nested(100_000), known_backends=KNOWN)
    [problem] = caught.value.problems
    assert (problem.source, problem.line) == (MAPPING_SOURCE, None)
    assert problem.key_path.startswith("environments.prod.note.a.a.")
    assert f"nesting limit of {MAX_FLAG_NESTING} levels" in problem.message


def test_a_mapping_that_contains_itself_is_refused_at_the_limit() -> None:
    """A mapping holding itself (endless recursion before) is refused as too deep."""
    loop: dict[str, object] = {"stage": "off"}
    loop["again"] = [loop]
    data = {"schema_version": 1, "environments": {"prod": loop}}
    with pytest.raises(FlagFileError, match=f"nesting limit of {MAX_FLAG_NESTING} levels"):
        flags_from_mapping(data, known_backends=KNOWN)


def test_nesting_up_to_the_limit_reaches_the_schema() -> None:
    """Data exactly at the limit is not refused for its depth: the schema judges it."""
    with pytest.raises(FlagFileError) as caught:
        flags_from_mapping(nested(MAX_FLAG_NESTING - 3), known_backends=KNOWN)
    assert "nesting limit" not in str(caught.value)
    assert "note" in str(caught.value)


def test_a_client_given_deep_flags_raises_the_typed_error() -> None:
    """`Client(flags=...)` with hostile nesting raises FlagFileError, a ConfigurationError."""
    with pytest.raises(FlagFileError, match=f"nesting limit of {MAX_FLAG_NESTING} levels"):
        Client(flags=nested(100_000), environment="prod")
