"""Tests for turnout.contract.javascript: capturing the last bare expression."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.contract.javascript import prepare_body


def captured(expression: str) -> str:
    """The statement the last bare expression `expression` is rewritten to."""
    return f"__turnout__.last = await ({expression});"


class TestPrepareBodyCaptures:
    def test_single_expression(self) -> None:
        """A lone expression becomes an awaited assignment to __turnout__.last."""
        assert prepare_body("x + 1") == captured("x + 1")

    def test_expression_after_declarations(self) -> None:
        """Only the final statement is rewritten; earlier statements are kept."""
        code = "const a = 1;\nlet b = a * 2;\nb + a"
        assert prepare_body(code) == "const a = 1;\nlet b = a * 2;\n" + captured("b + a")

    def test_semicolon_terminated_expression(self) -> None:
        """A final expression with its own semicolon is captured without doubling it."""
        assert prepare_body("compute();") == captured("compute()")

    def test_await_expression(self) -> None:
        """An awaited call as the last expression is captured as it is."""
        assert prepare_body("await fetchIt()") == captured("await fetchIt()")

    def test_multi_line_expression_keeps_line_count(self) -> None:
        """A last expression spanning lines keeps every line, so line numbers stay the user's."""
        code = "const xs = [1, 2];\nxs.map((x) => {\n  return x * 2;\n})"
        body = prepare_body(code)
        assert body.count("\n") == code.count("\n")
        assert body.endswith(captured("xs.map((x) => {\n  return x * 2;\n})"))

    def test_object_literal_in_parentheses(self) -> None:
        """A parenthesised object literal is captured whole."""
        assert prepare_body("({ a: 1 })") == captured("({ a: 1 })")

    def test_sequence_expression(self) -> None:
        """A comma expression is captured whole, so its value is the last operand."""
        assert prepare_body("a, b") == captured("a, b")

    def test_trailing_empty_statements_ignored(self) -> None:
        """Stray semicolons after the last expression do not hide it."""
        assert prepare_body("x;;").startswith(captured("x"))

    def test_trailing_newline_kept(self) -> None:
        """A trailing newline after the last expression is preserved."""
        assert prepare_body("x\n") == captured("x") + "\n"

    def test_non_ascii_before_expression(self) -> None:
        """Multi-byte characters before the expression do not shift the rewrite."""
        code = 'const s = "é😀";\ns.length'
        assert prepare_body(code) == 'const s = "é😀";\n' + captured("s.length")

    def test_non_ascii_inside_expression(self) -> None:
        """Multi-byte characters inside the expression are kept intact."""
        code = 'const ü = "ß";\nü + "😀"'
        assert prepare_body(code) == 'const ü = "ß";\n' + captured('ü + "😀"')

    def test_nul_character_in_string_literal(self) -> None:
        """A raw NUL inside a string literal (valid JavaScript) does not stop the capture."""
        code = 'const s = "a\x00b";\ns.length'
        assert prepare_body(code) == 'const s = "a\x00b";\n' + captured("s.length")

    def test_modern_syntax(self) -> None:
        """Optional chaining and nullish coalescing parse and are captured."""
        assert prepare_body("inputs?.data ?? null") == captured("inputs?.data ?? null")


class TestPrepareBodyComments:
    def test_comment_lines_after_expression_kept(self) -> None:
        """Comment lines after the last expression are kept and do not stop the capture."""
        code = "total\n// the sum\n/* done */\n"
        assert prepare_body(code) == captured("total") + "\n// the sum\n/* done */\n"

    def test_comment_after_semicolon_kept(self) -> None:
        """A comment after the expression's semicolon on the same line is kept."""
        assert prepare_body("total; // the sum") == captured("total") + " // the sum"

    def test_same_line_comment_without_semicolon_kept(self) -> None:
        """A comment on the same line as a semicolon-less last expression is kept."""
        assert prepare_body("total // the sum") == captured("total") + " // the sum"

    def test_multi_line_trailing_block_comment_keeps_line_count(self) -> None:
        """A block comment spanning lines after the last expression keeps the line count."""
        code = "total /* the\nsum */"
        assert prepare_body(code).count("\n") == code.count("\n")

    def test_leading_comment_kept(self) -> None:
        """A comment before the expression stays in place."""
        assert prepare_body("// compute\nx") == "// compute\n" + captured("x")

    def test_only_comments_unchanged(self) -> None:
        """Code made only of comments has no expression to capture."""
        assert prepare_body("// nothing\n/* here */") == "// nothing\n/* here */"


class TestPrepareBodyLeavesAlone:
    @pytest.mark.parametrize(
        "code",
        [
            "const a = 1",
            "let a = 1;\nvar b = 2;",
            "function f() { return 1; }",
            "class A {}",
            "if (a) { b }",
            "if (a) b; else c",
            "for (const x of xs) x",
            "return 1",
            "return { sum, average: sum / n };",
            "{ x }",
            "try { x } catch (e) { y }",
        ],
    )
    def test_non_expression_last_statement(self, code: str) -> None:
        """Declarations, blocks, control flow and return as last statement are untouched."""
        assert prepare_body(code) == code

    def test_expression_in_nested_block_not_captured(self) -> None:
        """An expression that is last inside a nested block is not captured."""
        code = "if (ready) {\n  compute()\n}"
        assert prepare_body(code) == code

    def test_expression_inside_function_not_captured(self) -> None:
        """An expression statement inside a function body is not captured."""
        code = "function f() {\n  x + 1\n}"
        assert prepare_body(code) == code

    @pytest.mark.parametrize("code", ["let x = (", "const = 5", "x +", "}{", "return )"])
    def test_syntax_error_unchanged(self, code: str) -> None:
        """Code that does not parse is returned untouched for V8 to report."""
        assert prepare_body(code) == code

    def test_empty_code_unchanged(self) -> None:
        """Empty code stays empty."""
        assert prepare_body("") == ""

    def test_earlier_expression_not_captured(self) -> None:
        """Only the last statement counts: an earlier expression before a declaration is kept."""
        code = "x + 1;\nconst y = 2;"
        assert prepare_body(code) == code


identifiers = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True).filter(
    lambda name: (
        name
        not in {
            "do",
            "if",
            "in",
            "for",
            "let",
            "new",
            "try",
            "var",
            "case",
            "else",
            "enum",
            "this",
            "void",
            "with",
            "break",
            "catch",
            "class",
            "const",
            "super",
            "throw",
            "while",
            "yield",
            "delete",
            "export",
            "import",
            "public",
            "return",
            "static",
            "switch",
            "typeof",
            "default",
            "extends",
            "finally",
            "package",
            "private",
            "continue",
            "debugger",
            "function",
            "arguments",
            "interface",
            "protected",
            "implements",
            "instanceof",
            "await",
            "async",
            "null",
            "true",
            "false",
            "of",
            "get",
            "set",
        }
    )
)


class TestPrepareBodyProperties:
    @settings(max_examples=100, deadline=None)
    @given(
        names=st.lists(identifiers, min_size=1, max_size=5),
        text=st.text(
            st.characters(codec="utf-8", exclude_characters='\x00"\\\n\r\u2028\u2029'), max_size=10
        ),
    )
    def test_line_count_unchanged(self, names: list[str], text: str) -> None:
        """Declarations with arbitrary string contents then an expression keep their lines."""
        lines = [f'const {name}_v = "{text}";' for name in names]
        code = "\n".join([*lines, f"{names[0]}_v.length"])
        body = prepare_body(code)
        assert body.count("\n") == code.count("\n")
        assert body.endswith(captured(f"{names[0]}_v.length"))
