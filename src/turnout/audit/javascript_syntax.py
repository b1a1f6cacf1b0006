"""JavaScript syntax for the audit: the two grammars, and reading declarations from a tree.

`parser(typescript)` parses with tree-sitter's JavaScript or TypeScript grammar (a
superset, used to tell TypeScript syntax from a plain syntax error); the helpers below read
what a tree declares and where it fails, for `javascript_code`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import tree_sitter
import tree_sitter_javascript
import tree_sitter_typescript

from turnout.audit.facts import Sighting
from turnout.audit.javascript_flow import text
from turnout.audit.javascript_names import TYPESCRIPT_CONSTRUCTS

__all__ = [
    "NAMED",
    "declared",
    "first_error",
    "line",
    "parser",
    "pattern_names",
    "string",
    "typescript_constructs",
    "walk",
]

Node = tree_sitter.Node
_PATTERNS = frozenset({"object_pattern", "array_pattern", "rest_pattern", "formal_parameters"})
NAMED = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "class_declaration",
        "abstract_class_declaration",
        "function_expression",
        "generator_function",
        "class",
    }
)


@functools.cache
def parser(typescript: bool) -> tree_sitter.Parser:
    """One parser per grammar and process (building one loads the grammar)."""
    grammar = (
        tree_sitter_typescript.language_typescript()
        if typescript
        else tree_sitter_javascript.language()
    )
    return tree_sitter.Parser(tree_sitter.Language(grammar))


def walk(root: Node) -> Iterator[Node]:
    """Every node under `root`, in source order, without recursion (deep code is fine)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def line(node: Node) -> int:
    return node.start_point[0] + 1


def first_error(root: Node) -> Sighting:
    for node in walk(root):
        if node.type == "ERROR":
            snippet = text(node).strip().splitlines()[0][:40] if text(node).strip() else ""
            return Sighting(line(node), "unexpected " + (f"`{snippet}`" if snippet else "input"))
        if node.is_missing:
            return Sighting(line(node), f"missing `{node.type}`")
    return Sighting(1, "the code does not parse")


def typescript_constructs(root: Node) -> list[Sighting]:
    found: dict[int, Sighting] = {}
    for node in walk(root):
        what = TYPESCRIPT_CONSTRUCTS.get(node.type)
        if what is not None and line(node) not in found:
            found[line(node)] = Sighting(line(node), what, text(node).splitlines()[0][:60])
    return sorted(found.values(), key=lambda s: s.line)


def string(node: Node | None) -> str | None:
    """The value of a string literal (or a template without substitutions), else None."""
    if node is None:
        return None
    if node.type == "string" or (
        node.type == "template_string"
        and not any(c.type == "template_substitution" for c in node.named_children)
    ):
        return "".join(text(child) for child in node.named_children)
    return None


def pattern_names(node: Node | None) -> Iterator[Node]:
    """The identifiers a declaration or parameter pattern binds."""
    if node is None:
        return
    kind = node.type
    if kind in ("identifier", "shorthand_property_identifier_pattern"):
        yield node
    elif kind in ("assignment_pattern", "object_assignment_pattern"):
        yield from pattern_names(node.child_by_field_name("left"))
    elif kind == "pair_pattern":
        yield from pattern_names(node.child_by_field_name("value"))
    elif kind in ("required_parameter", "optional_parameter"):
        yield from pattern_names(node.child_by_field_name("pattern"))
    elif kind in _PATTERNS:
        for child in node.named_children:
            yield from pattern_names(child)


def declared(node: Node) -> Iterator[Node]:
    """The identifiers `node` declares or assigns (sloppy-mode `x = 1` creates a global)."""
    kind = node.type
    if kind == "variable_declarator":
        yield from pattern_names(node.child_by_field_name("name"))
    elif kind in NAMED:
        name = node.child_by_field_name("name")
        if name is not None and name.type == "identifier":
            yield name
    elif kind == "formal_parameters":
        yield from pattern_names(node)
    elif kind == "arrow_function" or kind == "catch_clause":
        yield from pattern_names(node.child_by_field_name("parameter"))
    elif kind == "for_in_statement":
        yield from pattern_names(node.child_by_field_name("left"))
    elif kind == "assignment_expression":
        left = node.child_by_field_name("left")
        if left is not None and left.type == "identifier":
            yield left
    elif kind in ("import_clause", "namespace_import", "import_specifier"):
        for child in node.named_children:
            if child.type == "identifier":
                yield child
