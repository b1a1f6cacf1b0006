"""Tests for turnout.flags.ignore: parsing and matching shadow comparison ignore rules."""

from __future__ import annotations

import pytest

from turnout.flags import IgnoreRule, PathSegment, parse_ignore_rule


def matches(pattern: str, *path: str | int) -> bool:
    """Whether `pattern` ignores a difference at `path`."""
    return parse_ignore_rule(pattern).matches(path)


class TestParseIgnoreRule:
    def test_dotted_keys(self) -> None:
        """`.name` steps become key segments and the text is kept."""
        rule = parse_ignore_rule("$.metadata.executionTime")
        assert rule == IgnoreRule(
            "$.metadata.executionTime", (PathSegment("metadata"), PathSegment("executionTime"))
        )

    def test_brackets(self) -> None:
        """Indexes, quoted keys and wildcards in brackets are parsed."""
        rule = parse_ignore_rule("$.logs[2][\"a b\"]['c'][*]")
        assert rule.segments == (
            PathSegment("logs"),
            PathSegment(2),
            PathSegment("a b"),
            PathSegment("c"),
            PathSegment(None),
        )

    def test_descendant(self) -> None:
        """`..name` is a key at any depth."""
        assert parse_ignore_rule("$..sandboxId").segments == (PathSegment("sandboxId", True),)

    def test_must_start_with_root(self) -> None:
        """A rule that does not start with `$` is refused."""
        with pytest.raises(ValueError, match="must start with '\\$'"):
            parse_ignore_rule("metadata.executionTime")

    def test_root_alone_refused(self) -> None:
        """`$` alone would ignore everything, so it is refused."""
        with pytest.raises(ValueError, match="every difference"):
            parse_ignore_rule("$")

    def test_bad_character_located(self) -> None:
        """An unexpected character is reported with its position."""
        with pytest.raises(ValueError, match="character 4"):
            parse_ignore_rule("$.a{b}")

    def test_unquoted_odd_key_refused(self) -> None:
        """A key with other characters must be quoted in brackets."""
        with pytest.raises(ValueError, match="quote other keys"):
            parse_ignore_rule("$.a.$b")


class TestIgnoreRuleMatches:
    def test_exact_path(self) -> None:
        """A rule matches the path it names."""
        assert matches("$.metadata.executionTime", "metadata", "executionTime")

    def test_below_the_path(self) -> None:
        """A rule matches every difference below the path it names."""
        assert matches("$.metadata", "metadata", "warnings", 0)

    def test_other_path(self) -> None:
        """A rule does not match a sibling path."""
        assert not matches("$.metadata.executionTime", "metadata", "backend")

    def test_shorter_path(self) -> None:
        """A rule does not match a difference above the path it names."""
        assert not matches("$.metadata.executionTime", "metadata")

    def test_index(self) -> None:
        """`[n]` matches list index n only, not the key "n"."""
        assert matches("$.logs[1]", "logs", 1)
        assert not matches("$.logs[1]", "logs", "1")

    def test_wildcard(self) -> None:
        """`[*]` matches any one key or index."""
        assert matches("$.output[*].id", "output", 7, "id")

    def test_descendant_at_any_depth(self) -> None:
        """`..name` matches the key directly below or deeper."""
        assert matches("$..sandboxId", "sandboxId")
        assert matches("$..sandboxId", "metadata", "deep", "sandboxId")
        assert not matches("$..sandboxId", "metadata", "other")
