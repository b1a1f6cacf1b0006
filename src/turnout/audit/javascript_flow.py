"""Where a value goes in a JavaScript node's code: which envelope paths it visibly reaches.

Used for values that differ from run to run (`Date.now()`, `Math.random()`, a uuid): a
shadow comparison will call those paths mismatches unless they are ignored, so the audit
suggests `shadow_ignore` rules for them. The walk goes up the syntax tree from the value:

- through object and array literals, collecting the key or index (`{at: X}` -> `at`);
- through any other expression (`'id_' + X`, `X.toISOString()`, `String(X)`), which makes
  the whole expression differ: keys collected below it no longer matter;
- into a variable (`const id = X`, `out.at = X`), then on from every later read of it;
- out of a function through its `return` or arrow body, then on from every read of the
  function's name, or from the call the function is passed to (`items.map(i => X)`);
- to a sink: the code's top-level `return`, an assignment to `result`, its last bare
  expression (the output), or `console.log` / `console.error` (stdout / stderr).

Anything else (a condition, a loop) stops the walk: the value may still change the output,
but not where it can be seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import tree_sitter

from turnout.audit.facts import ANY
from turnout.audit.findings import EnvelopePath

__all__ = ["FUNCTIONS", "FlowGraph", "text"]

FUNCTIONS = frozenset(
    {
        "function_declaration",
        "function_expression",
        "function",
        "arrow_function",
        "method_definition",
        "generator_function_declaration",
        "generator_function",
    }
)
_CONTAINERS = frozenset({"object", "array", "parenthesized_expression", "spread_element"})
_STDOUT = frozenset({"log", "info", "debug", "table", "dir"})
_STDERR = frozenset({"error", "warn", "trace"})
_MAX_STEPS = 10_000
Segments = tuple[str | int | None, ...]


def text(node: tree_sitter.Node | None) -> str:
    """The source text of `node` ("" for none)."""
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def key_of(node: tree_sitter.Node | None) -> str | None:
    """An object literal key as the output will have it; None (any) for a computed key."""
    if node is None:
        return ANY
    if node.type in ("property_identifier", "number"):
        return text(node)
    if node.type == "string":
        return "".join(text(child) for child in node.named_children)
    return ANY


class FlowGraph:
    """The parts of one parse tree the walk needs: references of each name, and which
    top-level statement is the last one."""

    def __init__(self, root: tree_sitter.Node, references: dict[str, list[tree_sitter.Node]]):
        self._references = references
        statements = [
            child
            for child in root.named_children
            if child.type not in ("comment", "empty_statement", "hash_bang_line")
        ]
        self._last = statements[-1] if statements else None

    def paths(self, source: tree_sitter.Node) -> tuple[EnvelopePath, ...]:
        """Every envelope path the value of `source` visibly reaches, most specific first."""
        found: list[EnvelopePath] = []
        seen: set[tuple[str, Segments]] = set()
        work: list[tuple[tree_sitter.Node, Segments]] = [(source, ())]
        steps = 0
        while work and steps < _MAX_STEPS:
            node, segments = work.pop()
            steps += 1
            for kind, name, below in self._climb(node, segments):
                if kind == "sink":
                    path: EnvelopePath = (name, *below) if name == "output" else (name,)
                    if path not in found:
                        found.append(path)
                    if name in ("stdout", "stderr") and ("logs",) not in found:
                        found.append(("logs",))
                elif (name, below) not in seen:
                    seen.add((name, below))
                    work.extend((reference, below) for reference in self._references.get(name, ()))
        return tuple(found)

    def _climb(
        self, node: tree_sitter.Node, segments: Segments
    ) -> Iterator[tuple[str, str, Segments]]:
        """Walk up from `node`; yield ("sink", place, segments) or ("name", variable,
        segments) for where the value ends up."""
        if node.type == "shorthand_property_identifier":  # `{ id }` reads `id` into key `id`
            segments = (text(node), *segments)
        current = node
        while (parent := current.parent) is not None:
            kind = parent.type
            if kind == "pair":
                if parent.child_by_field_name("value") != current:
                    return
                segments = (key_of(parent.child_by_field_name("key")), *segments)
            elif kind == "array":
                elements = [c for c in parent.named_children if c.type != "comment"]
                segments = (_index(elements, current), *segments)
            elif kind in _CONTAINERS:
                pass
            elif kind == "return_statement":
                function = _enclosing_function(parent)
                if function is None:
                    yield ("sink", "output", segments)
                    return
                yield from self._leave(function)
                return
            elif kind in FUNCTIONS:  # an arrow function's expression body
                yield from self._leave(parent)
                return
            elif kind == "variable_declarator":
                name = parent.child_by_field_name("name")
                value = parent.child_by_field_name("value")
                if value == current and name is not None and name.type == "identifier":
                    yield ("name", text(name), segments)
                return
            elif kind == "assignment_expression":
                yield from self._assigned(parent, current, segments)
                return
            elif kind == "arguments":
                yield from self._passed(parent, segments)
                return
            elif kind == "expression_statement":
                if parent == self._last and _enclosing_function(parent) is None:
                    yield ("sink", "output", segments)
                return
            elif kind.endswith(("statement", "declaration", "clause")) or kind in (
                "program",
                "statement_block",
            ):
                return
            else:  # an expression built from the value: the whole of it differs
                segments = ()
            current = parent

    def _leave(self, function: tree_sitter.Node) -> Iterator[tuple[str, str, Segments]]:
        """A function's return value differs: follow its name, or the expression it is."""
        name = function.child_by_field_name("name")
        if function.type.endswith("declaration") and name is not None:
            yield ("name", text(name), ())
        else:
            yield from self._climb(function, ())

    def _assigned(
        self, assignment: tree_sitter.Node, value: tree_sitter.Node, segments: Segments
    ) -> Iterator[tuple[str, str, Segments]]:
        if assignment.child_by_field_name("right") != value:
            return
        target = assignment.child_by_field_name("left")
        if target is None:
            return
        if target.type == "identifier":
            if text(target) == "result":
                yield ("sink", "output", segments)
            yield ("name", text(target), segments)
        elif target.type in ("member_expression", "subscript_expression"):
            holder = target.child_by_field_name("object")
            if target.type == "member_expression":
                key = key_of(target.child_by_field_name("property"))
            else:
                key = key_of(target.child_by_field_name("index"))
            if holder is not None and holder.type == "identifier":
                yield ("name", text(holder), (key, *segments))

    def _passed(
        self, arguments: tree_sitter.Node, segments: Segments
    ) -> Iterator[tuple[str, str, Segments]]:
        call = arguments.parent
        if call is None:
            return
        callee = call.child_by_field_name("function")
        if callee is not None and callee.type == "member_expression":
            holder = callee.child_by_field_name("object")
            method = text(callee.child_by_field_name("property"))
            if text(holder) == "console":
                if method in _STDOUT:
                    yield ("sink", "stdout", ())
                elif method in _STDERR:
                    yield ("sink", "stderr", ())
                return
        yield from self._climb(call, ())


def _index(elements: Iterable[tree_sitter.Node], element: tree_sitter.Node) -> int | None:
    for position, candidate in enumerate(elements):
        if candidate == element:
            return position
    return ANY


def _enclosing_function(node: tree_sitter.Node) -> tree_sitter.Node | None:
    current = node.parent
    while current is not None:
        if current.type in FUNCTIONS:
            return current
        current = current.parent
    return None
