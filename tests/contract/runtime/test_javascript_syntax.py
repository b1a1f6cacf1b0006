"""Syntax errors where the user's code ends too early: the JavaScript runtime reports them in
the user's terms, at the user's line, never as a token of the text turnout adds after the
code (local-subprocess, real Node)."""

from __future__ import annotations

import pytest

from turnout import CodeExecutionError, execute_code_node

BACKEND = "local-subprocess"
TRUNCATED = {
    "operator": ("return a +", 1),
    "object": ("return {", 1),
    "call": ("foo(", 1),
    "block": ("if (a) {\n  a = 1;", 2),
    "array-over-lines": ("const x = 1;\nreturn [x,\n  2,", 3),
    "template": ("return `abc", 1),
    "trailing-comment-without-newline": ("return a +  // the rest", 1),
    "comment-lines-after-the-code": ("x = 1;\nreturn x +\n// a note\n\n", 2),
}


async def failure(code: str) -> CodeExecutionError:
    with pytest.raises(CodeExecutionError) as caught:
        await execute_code_node({"language": "javascript", "code": code}, {}, backend=BACKEND)
    return caught.value


@pytest.mark.parametrize(("code", "line"), TRUNCATED.values(), ids=TRUNCATED.keys())
async def test_code_that_ends_too_early_is_an_unexpected_end_at_its_last_line(
    code: str, line: int
) -> None:
    """The error says the input ended and quotes the user's last line of code, at that line."""
    error = await failure(code)
    last_code = code.splitlines()[line - 1].strip()
    assert (error.kind, error.name, error.line) == ("syntax", "SyntaxError", line)
    assert "Unexpected end of input" in error.message
    assert f"`{last_code}`" in error.message
    assert "';'" not in error.message


async def test_an_unterminated_string_is_named_at_its_line() -> None:
    """V8's own message for an unterminated string stays, at the string's line."""
    error = await failure("const a = 1;\nreturn 'abc")
    assert (error.kind, error.line) == ("syntax", 2)
    assert "Invalid or unexpected token" in error.message


async def test_a_brace_closing_more_than_the_code_opened_is_named_at_its_line() -> None:
    """A `}` with no `{` closes turnout's function: reported as that token, at its line."""
    error = await failure("const a = 1;\nreturn a }")
    assert (error.kind, error.line) == ("syntax", 2)
    assert "Unexpected token '}'" in error.message


async def test_a_trailing_line_comment_without_a_newline_is_fine() -> None:
    """`return 1 // note` with no final newline runs: the comment ends with the code."""
    envelope = await execute_code_node(
        {"language": "javascript", "code": "return 1 // note"}, {}, backend=BACKEND
    )
    assert envelope["output"] == 1


async def test_an_error_inside_the_code_keeps_v8s_message_and_line() -> None:
    """A syntax error within the code is reported as V8 reports it, at its line."""
    error = await failure("const x = 1;\n\nlet = = 2;\nx")
    assert (error.kind, error.line, error.message) == (
        "syntax",
        3,
        "SyntaxError: Unexpected token '='",
    )
