"""turnout.limits: nesting and size bounds on configs and contexts, checked without recursion."""

from __future__ import annotations

from typing import Any

import pytest

from turnout import execute_code_node
from turnout.errors import ValidationError
from turnout.limits import MAX_DEPTH, check_json_text, check_json_value


def nested(depth: int) -> Any:
    """Arrays nested `depth` deep, built without recursion."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


class TestText:
    def test_brackets_inside_strings_do_not_count(self) -> None:
        """A string full of brackets is not nesting."""
        check_json_text(b'{"x": "' + b"[" * 10_000 + b'"}', "--context", max_bytes=10**6)

    def test_escaped_quotes_do_not_end_a_string(self) -> None:
        """An escaped quote keeps the brackets after it inside the string."""
        check_json_text(b'{"x": "\\"' + b"{" * 10_000 + b'"}', "--context", max_bytes=10**6)

    def test_an_escaped_backslash_does_not_escape_the_closing_quote(self) -> None:
        """After `"\\\\"` the string has ended: deep brackets that follow are counted."""
        deep = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
        with pytest.raises(ValidationError, match="limit of 256"):
            check_json_text(b'{"x": "\\\\", "y": ' + deep + b"}", "--context", max_bytes=10**6)

    def test_nesting_past_the_limit_is_refused_with_its_depth(self) -> None:
        """A value nested 257 deep is refused; the message gives the depth and the limit."""
        text = b'{"x": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}"
        with pytest.raises(ValidationError, match=r"257 levels deep .* limit of 256"):
            check_json_text(text, "--context", max_bytes=10**6)

    def test_size_past_the_limit_is_refused(self) -> None:
        """Text one byte over the size limit is refused, naming the limit."""
        with pytest.raises(ValidationError, match="size limit of 10 bytes") as info:
            check_json_text(b"[" + b" " * 9 + b"]", "--config", max_bytes=10)
        assert info.value.field == "--config"


class TestValue:
    def test_a_cycle_is_refused_as_too_deep(self) -> None:
        """A self-referencing list is caught by the depth bound, not by a RecursionError."""
        loop: list[Any] = []
        loop.append(loop)
        with pytest.raises(ValidationError, match="limit of 256") as info:
            check_json_value({"x": loop}, "context", max_bytes=10**6)
        assert info.value.field == "context.x"

    def test_size_counts_utf8_bytes(self) -> None:
        """Non-ASCII text counts by its UTF-8 bytes: 4 two-byte characters exceed 10 bytes."""
        check_json_value({"x": "aaaa"}, "context", max_bytes=20)
        with pytest.raises(ValidationError, match="size limit"):
            check_json_value({"x": "éééé"}, "context", max_bytes=14)


class TestLibraryApi:
    async def test_a_context_nested_100000_deep_names_the_limit_and_key(self) -> None:
        """execute_code_node refuses a 100,000-deep context value before anything recurses."""
        with pytest.raises(ValidationError, match="limit of 256") as info:
            await execute_code_node(
                {"language": "python", "code": "return 1"},
                {"deep": nested(100_000)},
                backend="local-subprocess",
            )
        assert info.value.field == "context.deep"

    async def test_a_config_nested_100000_deep_names_the_limit_and_field(self) -> None:
        """A 100,000-deep value in a stored config, even in an unknown field, is refused."""
        config = {"language": "python", "code": "return 1", "memoryLimit": nested(100_000)}
        with pytest.raises(ValidationError, match="limit of 256") as info:
            await execute_code_node(config, {}, backend="local-subprocess")
        assert info.value.field == "config.memoryLimit"

    async def test_a_config_over_4_mib_is_refused(self) -> None:
        """A config whose code is over 4 MiB is refused naming the limit."""
        config = {"language": "python", "code": "#" * (4 * 1024 * 1024)}
        with pytest.raises(ValidationError, match=r"4,194,304 bytes \(4 MiB\)") as info:
            await execute_code_node(config, {}, backend="local-subprocess")
        assert info.value.field == "config"
