"""Read a Python node's code with `ast` and report what it does (`CodeFacts`).

The code is parsed as the module it becomes (turnout accepts a top-level `return` and
`await`, and so does `ast.parse`). Names are resolved without scopes: a name counts as
defined if the code binds it anywhere (assignment, `def`, `import`, parameter, `for`,
`except ... as`, `with ... as`, `global`, a pattern). A read inside a `try` that catches
`NameError` is guarded and not reported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from turnout.audit.facts import CodeFacts, Sighting
from turnout.audit.python_flow import FUNCTIONS, PythonFlow
from turnout.audit.python_names import (
    FILE_WRITE_FUNCTIONS,
    FILE_WRITE_METHODS,
    GLOBALS,
    NETWORK_MODULES,
    PATH_WRITE_METHODS,
    RANDOM_FUNCTIONS,
    RANDOM_MODULES,
)

__all__ = ["analyze_python"]

_ENVIRONMENT = frozenset({"os.environ", "os.environb"})
_GETENV = frozenset({"os.getenv", "os.getenvb"})
_OPENERS = frozenset({"open", "io.open", "codecs.open"})
_DYNAMIC_IMPORTS = frozenset({"__import__", "importlib.import_module"})


def analyze_python(code: str) -> CodeFacts:
    """What `code` does."""
    facts = CodeFacts(language="python")
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        facts.syntax_error = Sighting(error.lineno or 1, error.msg)
        return facts
    except ValueError as error:  # a NUL byte in the source
        facts.syntax_error = Sighting(1, str(error))
        return facts
    _Reader(tree, facts).read()
    return facts


def _prefixes(name: str) -> Iterator[str]:
    """`a.b.c`, `a.b`, `a`: a qualified name and the modules it lives in."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        yield ".".join(parts[:end])


def _in(name: str | None, modules: frozenset[str]) -> str | None:
    """The entry of `modules` that `name` is or lives in, else None."""
    if name is None:
        return None
    return next((prefix for prefix in _prefixes(name) if prefix in modules), None)


class _Reader:
    def __init__(self, tree: ast.Module, facts: CodeFacts) -> None:
        self.tree = tree
        self.facts = facts
        self.parents: dict[ast.AST, ast.AST] = {}
        self.aliases: dict[str, str] = {}  # local name -> qualified name it was imported as
        self.bound: set[str] = set()
        self.guarded: set[int] = set()  # ids of Name nodes read under `except NameError`
        self.star_imports: list[str] = []  # modules of `from m import *`

    def read(self) -> None:
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
            self._bind(node)
        flow = PythonFlow(self.tree, self.parents)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._imports(node)
            elif isinstance(node, ast.Call):
                self._call(node, flow)
            elif isinstance(node, ast.Subscript):
                self._subscript(node)
            elif isinstance(node, ast.Attribute | ast.Name) and self._reads_environment(node):
                self._environment(node)
        self._globals()
        self._output()
        for found in (
            self.facts.modules,
            self.facts.network,
            self.facts.file_writes,
            self.facts.nondeterminism,
            self.facts.environment,
        ):
            found.sort(key=lambda s: s.line)

    # -- names -----------------------------------------------------------------------------

    def _bind(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            self.bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.bound.add(node.name)
        elif isinstance(node, ast.arg):
            self.bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            self.bound.update(node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            self.bound.add(node.rest)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                self.bound.add(local)
                self.aliases[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if alias.name == "*":
                    self.star_imports.append(node.module)
                else:
                    self.bound.add(alias.asname or alias.name)
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.ImportFrom):
            self.bound.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Try | ast.TryStar) and any(
            _catches_name_error(handler) for handler in node.handlers
        ):
            for statement in node.body:
                self.guarded.update(id(n) for n in ast.walk(statement) if isinstance(n, ast.Name))

    def qualified(self, node: ast.AST) -> str | None:
        """The dotted name `node` stands for, import aliases resolved; None if not a name."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            inner = self.qualified(node.value)
            return f"{inner}.{node.attr}" if inner else None
        return None

    def _globals(self) -> None:
        first: dict[str, int] = {}
        guarded: set[str] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if id(node) in self.guarded:
                    guarded.add(node.id)
                elif node.id not in first or node.lineno < first[node.id]:
                    first[node.id] = node.lineno
        origin = f"from {', '.join(self.star_imports)} import *" if self.star_imports else ""
        self.facts.globals_read = sorted(
            (
                Sighting(line, name, origin)
                for name, line in first.items()
                if name not in GLOBALS and name not in self.bound and name not in guarded
            ),
            key=lambda s: (s.line, s.name),
        )

    # -- modules, environment --------------------------------------------------------------

    def _imports(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            for name in names:
                self.facts.modules.append(Sighting(node.lineno, name, "import"))
        elif node.level:
            relative = "." * node.level + (node.module or "")
            self.facts.modules.append(Sighting(node.lineno, relative, "relative"))
            return
        else:
            module = node.module or ""
            self.facts.modules.append(Sighting(node.lineno, module, "import"))
            names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        for name in names:
            network = _in(name, NETWORK_MODULES)
            if network is not None:
                self._note(self.facts.network, Sighting(node.lineno, network, f"import {name}"))

    def _reads_environment(self, node: ast.Attribute | ast.Name) -> bool:
        return self.qualified(node) in _ENVIRONMENT

    def _environment(self, node: ast.AST) -> None:
        parent = self.parents.get(node)
        variable = ""
        if isinstance(parent, ast.Subscript) and parent.value is node:
            variable = _literal(parent.slice) or ""
        elif isinstance(parent, ast.Attribute) and parent.attr == "get":
            call = self.parents.get(parent)
            if isinstance(call, ast.Call) and call.args:
                variable = _literal(call.args[0]) or ""
        detail = f"os.environ[{variable!r}]" if variable else "os.environ"
        line = getattr(node, "lineno", 1)
        self.facts.environment.append(Sighting(line, variable, detail))

    def _subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.value, ast.Name) and node.value.id == "inputs":
            key = _literal(node.slice)
            if key is not None and "inputs" not in self.bound:
                self._note(self.facts.inputs_read, Sighting(node.lineno, key, f'inputs["{key}"]'))

    # -- calls -----------------------------------------------------------------------------

    def _call(self, call: ast.Call, flow: PythonFlow) -> None:
        name = self.qualified(call.func)
        first = call.args[0] if call.args else None
        detail = f"{ast.unparse(call.func)[:50]}({'...' if call.args or call.keywords else ''})"
        line = call.lineno
        if name in _DYNAMIC_IMPORTS:
            module = _literal(first)
            self.facts.modules.append(
                Sighting(line, module or "", "import" if module else "dynamic")
            )
        if name in _GETENV:
            variable = _literal(first) or ""
            self.facts.environment.append(Sighting(line, variable, detail))
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            holder = call.func.value.id
            if holder == "inputs" and call.func.attr == "get" and "inputs" not in self.bound:
                key = _literal(first)
                if key is not None:
                    self._note(self.facts.inputs_read, Sighting(line, key, f'inputs.get("{key}")'))
        network = _in(name, NETWORK_MODULES)
        if network is not None:
            self._note(self.facts.network, Sighting(line, network, detail))
        if self._writes_file(call, name):
            self.facts.file_writes.append(Sighting(line, name or "", detail))
        if name in RANDOM_FUNCTIONS or _in(name, RANDOM_MODULES):
            self.facts.nondeterminism.append(Sighting(line, detail, detail, flow.paths(call)))

    def _writes_file(self, call: ast.Call, name: str | None) -> bool:
        if name in FILE_WRITE_FUNCTIONS:
            return True
        if name in _OPENERS and (name != "open" or "open" not in self.bound):
            mode = call.args[1] if len(call.args) > 1 else None
            mode = next((k.value for k in call.keywords if k.arg == "mode"), mode)
            text = _literal(mode) if mode is not None else "r"
            return text is None or any(flag in text for flag in "wax+")
        if isinstance(call.func, ast.Attribute):
            method = call.func.attr
            if method in PATH_WRITE_METHODS or method == "mkdir":
                return True
            if method in FILE_WRITE_METHODS and call.args:
                return _literal(call.args[0]) is not None
        return False

    # -- output ----------------------------------------------------------------------------

    def _output(self) -> None:
        channels: set[str] = set()
        assigned: set[str] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Return) and self._at_module_level(node):
                channels.add("return")
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                if self._at_module_level(node):
                    assigned.add(node.id)
            elif isinstance(node, ast.Global):
                assigned.update(node.names)
        for statement in self.tree.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                assigned.add(statement.name)
        if "result" in assigned:
            channels.add("result")
        if self.tree.body and isinstance(self.tree.body[-1], ast.Expr):
            channels.add("last")
        self.facts.assigned = frozenset(assigned)
        self.facts.output_channels = frozenset(channels)

    def _at_module_level(self, node: ast.AST) -> bool:
        current = self.parents.get(node)
        while current is not None:
            if isinstance(current, (*FUNCTIONS, ast.ClassDef)):
                return False
            current = self.parents.get(current)
        return True

    @staticmethod
    def _note(found: list[Sighting], sighting: Sighting) -> None:
        """Add `sighting` unless the same name was already seen (first sighting wins)."""
        if all(existing.name != sighting.name for existing in found):
            found.append(sighting)


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _catches_name_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    if caught is None:
        return True
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(isinstance(n, ast.Name) and n.id in ("NameError", "Exception") for n in names)
