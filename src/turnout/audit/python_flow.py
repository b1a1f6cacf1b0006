"""Where a value goes in a Python node's code: which envelope paths it visibly reaches.

The same walk as the JavaScript one (see `javascript_flow`), over Python's `ast`: up
through dict, list and tuple displays collecting keys and indices; through any other
expression, which makes all of it differ; into variables (`x = V`, `out["at"] = V`) and on
from their reads; out of functions through `return` and on from reads of their name; to a
sink: the top-level `return`, an assignment to `result`, the last bare expression, or
`print` (stdout, or stderr with `file=sys.stderr`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from turnout.audit.facts import ANY
from turnout.audit.findings import EnvelopePath

__all__ = ["FUNCTIONS", "PythonFlow", "constant_key"]

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_CONTAINERS = (ast.Starred,)
_MAX_STEPS = 10_000
Segments = tuple[str | int | None, ...]


def constant_key(node: ast.expr | None) -> str | None:
    """A dict key as JSON output will have it (`1` becomes `"1"`); None (any) otherwise."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
        return node.value if isinstance(node.value, str) else str(node.value)
    return ANY


class PythonFlow:
    """The parts of a module the walk needs: parents, name reads, the last statement."""

    def __init__(self, tree: ast.Module, parents: dict[ast.AST, ast.AST]):
        self._parents = parents
        self._reads: dict[str, list[ast.AST]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                self._reads.setdefault(node.id, []).append(node)
        self._last = tree.body[-1] if tree.body else None

    def paths(self, source: ast.AST) -> tuple[EnvelopePath, ...]:
        """Every envelope path the value of `source` visibly reaches."""
        found: list[EnvelopePath] = []
        seen: set[tuple[str, Segments]] = set()
        work: list[tuple[ast.AST, Segments]] = [(source, ())]
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
                    work.extend((read, below) for read in self._reads.get(name, ()))
        return tuple(found)

    def _climb(self, node: ast.AST, segments: Segments) -> Iterator[tuple[str, str, Segments]]:
        current = node
        while (parent := self._parents.get(current)) is not None:
            if isinstance(parent, ast.Dict):
                if current not in parent.values:
                    return
                key = parent.keys[parent.values.index(current)]
                if key is not None:  # `**other` merges keys: no key of its own
                    segments = (constant_key(key), *segments)
            elif isinstance(parent, ast.List | ast.Tuple):
                position = next(i for i, e in enumerate(parent.elts) if e is current)
                segments = (position, *segments)
            elif isinstance(parent, ast.Set):
                segments = (ANY, *segments)
            elif isinstance(parent, ast.ListComp | ast.SetComp | ast.GeneratorExp):
                segments = (ANY, *segments) if parent.elt is current else ()
            elif isinstance(parent, ast.DictComp):
                segments = (ANY, *segments) if parent.value is current else ()
            elif isinstance(parent, _CONTAINERS):
                pass
            elif isinstance(parent, ast.Return):
                function = self._function_of(parent)
                if function is None:
                    yield ("sink", "output", segments)
                else:
                    yield from self._leave(function)
                return
            elif isinstance(parent, ast.Lambda):
                yield from self._leave(parent)
                return
            elif isinstance(parent, ast.Assign | ast.AnnAssign | ast.AugAssign):
                yield from self._assigned(parent, current, segments)
                return
            elif isinstance(parent, ast.NamedExpr):
                yield ("name", parent.target.id, segments)
            elif isinstance(parent, ast.keyword | ast.Call) and self._is_argument(parent, current):
                yield from self._passed(parent, segments)
                return
            elif isinstance(parent, ast.Expr):
                if parent is self._last:
                    yield ("sink", "output", segments)
                return
            elif isinstance(parent, ast.stmt | ast.Module | ast.comprehension):
                return
            else:  # an expression built from the value: the whole of it differs
                segments = ()
            current = parent

    @staticmethod
    def _is_argument(parent: ast.AST, current: ast.AST) -> bool:
        if isinstance(parent, ast.keyword):
            return True
        return isinstance(parent, ast.Call) and current is not parent.func

    def _function_of(self, node: ast.AST) -> ast.AST | None:
        current = self._parents.get(node)
        while current is not None:
            if isinstance(current, FUNCTIONS):
                return current
            current = self._parents.get(current)
        return None

    def _leave(self, function: ast.AST) -> Iterator[tuple[str, str, Segments]]:
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            yield ("name", function.name, ())
        else:
            yield from self._climb(function, ())

    def _assigned(
        self,
        statement: ast.Assign | ast.AnnAssign | ast.AugAssign,
        value: ast.AST,
        segments: Segments,
    ) -> Iterator[tuple[str, str, Segments]]:
        if statement.value is not value:
            return
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        below = segments if not isinstance(statement, ast.AugAssign) else ()
        for target in targets:
            if isinstance(target, ast.Name):
                if target.id == "result" and self._function_of(statement) is None:
                    yield ("sink", "output", below)
                yield ("name", target.id, below)
            elif isinstance(target, ast.Subscript | ast.Attribute) and isinstance(
                target.value, ast.Name
            ):
                key = (
                    constant_key(target.slice) if isinstance(target, ast.Subscript) else target.attr
                )
                yield ("name", target.value.id, (key, *below))

    def _passed(self, parent: ast.AST, segments: Segments) -> Iterator[tuple[str, str, Segments]]:
        call = self._parents.get(parent) if isinstance(parent, ast.keyword) else parent
        if not isinstance(call, ast.Call):
            return
        if isinstance(call.func, ast.Name) and call.func.id == "print":
            to_stderr = any(
                k.arg == "file" and ast.unparse(k.value) == "sys.stderr" for k in call.keywords
            )
            yield ("sink", "stderr" if to_stderr else "stdout", ())
            return
        yield from self._climb(call, ())
