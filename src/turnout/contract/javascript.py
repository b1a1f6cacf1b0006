"""JavaScript code nodes: the user's code becomes the body of an async function.

The only rewrite is for the "last bare expression" channel: the final top-level statement,
when it is an expression statement, becomes `__turnout__.last = await (<expr>);`. Locating
it needs a real parser, and the sandbox's Node has none installed, so it runs here, on the
host, with tree-sitter. The rewrite adds no line, so error line numbers stay the user's.
Code that does not parse is passed through untouched: V8 then reports the syntax error with
its own message and line. tree-sitter is loaded with the first JavaScript node, so a
process that runs only Python never pays for it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tree_sitter

__all__ = ["prepare_body"]

_SKIPPED = frozenset({"comment", "empty_statement", "hash_bang_line"})


@functools.cache
def _parser() -> tree_sitter.Parser:
    import tree_sitter
    import tree_sitter_javascript

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language()))


def prepare_body(code: str) -> str:
    """Return the function body to run: `code`, with its last bare expression captured."""
    source = code.encode("utf-8", "surrogatepass")
    # tree-sitter rejects a raw NUL that V8 accepts inside string literals; a space has the
    # same byte length, so offsets found in the sanitized copy apply to the original.
    root = _parser().parse(source.replace(b"\x00", b" ")).root_node
    if root.has_error:
        return code
    statements = [node for node in root.named_children if node.type not in _SKIPPED]
    if not statements or statements[-1].type != "expression_statement":
        return code
    statement = statements[-1]
    expression = statement.named_children[0] if statement.named_children else None
    if expression is None or expression.type in _SKIPPED:
        return code
    # Everything after the expression (a comment, the statement's own `;`) is kept as it
    # was, so no line is added or removed; a `;` is added only where the statement had none.
    has_semicolon = statement.children[-1].type == ";"
    captured = (
        source[: statement.start_byte]
        + b"__turnout__.last = await ("
        + source[expression.start_byte : expression.end_byte]
        + (b")" if has_semicolon else b");")
        + source[expression.end_byte :]
    )
    return captured.decode("utf-8", "surrogatepass")
