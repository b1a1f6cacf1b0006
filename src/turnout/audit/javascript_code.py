"""Read a JavaScript node's code with tree-sitter and report what it does (`CodeFacts`).

The code is parsed as the body it becomes (turnout runs it as the body of an async
function, so a top-level `return` and `await` are valid). When the JavaScript grammar
reports errors, the code is parsed again with the TypeScript grammar: if that parse is
clean, the errors were TypeScript syntax (each construct is reported at its line and the
rest of the analysis uses the TypeScript tree, a superset of JavaScript's); if it fails
too, the code has a plain syntax error, reported at the JavaScript parse's first error.

Names are resolved without scopes: a name counts as defined if the code declares or
assigns it anywhere. That never reports a defined name as undefined; it may miss a name
read outside the scope that defines it.
"""

from __future__ import annotations

import tree_sitter

from turnout.audit.facts import CodeFacts, Sighting
from turnout.audit.javascript_flow import FUNCTIONS, FlowGraph, key_of, text
from turnout.audit.javascript_names import (
    FS_MODULES,
    FS_WRITE_METHODS,
    GLOBALS,
    NETWORK_CONSTRUCTORS,
    NETWORK_FUNCTIONS,
    NETWORK_MODULES,
    RANDOM_MODULES,
)
from turnout.audit.javascript_syntax import (
    NAMED,
    declared,
    first_error,
    line,
    parser,
    pattern_names,
    string,
    typescript_constructs,
    walk,
)
from turnout.packages import module_root

__all__ = ["analyze_javascript"]

Node = tree_sitter.Node
_RANDOM_MEMBERS = {
    "Date": {"now"},
    "Math": {"random"},
    "performance": {"now"},
    "crypto": {"randomUUID", "getRandomValues", "randomBytes", "randomInt"},
    "process": {"hrtime"},
    "process.hrtime": {"bigint"},
}


def analyze_javascript(code: str, *, typescript: bool = False) -> CodeFacts:
    """What `code` does. `typescript`: the node is stored as TypeScript, so its syntax is
    expected (and not reported as a finding)."""
    # tree-sitter rejects a raw NUL that V8 accepts in strings; a space keeps the offsets.
    source = code.encode("utf-8", "surrogatepass").replace(b"\x00", b" ")
    facts = CodeFacts(language="typescript" if typescript else "javascript")
    root = parser(typescript).parse(source).root_node
    if root.has_error and not typescript:
        typed = parser(True).parse(source).root_node
        if not typed.has_error:
            facts.typescript = typescript_constructs(typed)
            root = typed
    if root.has_error:
        facts.syntax_error = first_error(root)
        return facts
    _Reader(root, facts).read()
    return facts


class _Reader:
    """One pass over the tree collecting nodes by role, then the facts from them."""

    def __init__(self, root: Node, facts: CodeFacts) -> None:
        self.root = root
        self.facts = facts
        self.declarations: set[int] = set()
        self.bound: set[str] = set()
        self.references: dict[str, list[Node]] = {}
        self.calls: list[Node] = []
        self.constructions: list[Node] = []
        self.members: list[Node] = []
        self.aliases: dict[str, str] = {}  # local name -> module it is `require`d from
        self.imported: dict[str, tuple[str, str]] = {}  # local name -> (module, export)

    def read(self) -> None:
        nodes = list(walk(self.root))
        for node in nodes:
            for name in declared(node):
                self.declarations.add(name.id)
                self.bound.add(text(name))
        for node in nodes:
            if node.type in ("identifier", "shorthand_property_identifier"):
                if node.id not in self.declarations:
                    self.references.setdefault(text(node), []).append(node)
            elif node.type == "call_expression":
                self.calls.append(node)
            elif node.type == "new_expression":
                self.constructions.append(node)
            elif node.type in ("member_expression", "subscript_expression"):
                self.members.append(node)
            elif node.type == "variable_declarator":
                self._note_alias(node)
            elif node.type == "import_statement":
                source = string(node.child_by_field_name("source"))
                self.facts.modules.append(Sighting(line(node), source or "", "esm"))
        self._globals()
        self._members()
        self._calls()
        self._output()

    def _free(self, name: str) -> bool:
        return name not in self.bound

    def _note_alias(self, declarator: Node) -> None:
        module = self._required(declarator.child_by_field_name("value"))
        name = declarator.child_by_field_name("name")
        if module is None or name is None:
            return
        if name.type == "identifier":
            self.aliases[text(name)] = module
        elif name.type == "object_pattern":
            for part in name.named_children:
                if part.type == "shorthand_property_identifier_pattern":
                    self.imported[text(part)] = (module, text(part))
                elif part.type == "pair_pattern":
                    local = part.child_by_field_name("value")
                    if local is not None and local.type == "identifier":
                        exported = key_of(part.child_by_field_name("key")) or ""
                        self.imported[text(local)] = (module, exported)

    def _required(self, node: Node | None) -> str | None:
        """The module of `require('m')` (also under `await`), else None."""
        while node is not None and node.type in ("await_expression", "parenthesized_expression"):
            node = node.named_children[0] if node.named_children else None
        if node is None or node.type != "call_expression":
            return None
        callee = node.child_by_field_name("function")
        if callee is None or text(callee) != "require" or not self._free("require"):
            return None
        arguments = node.child_by_field_name("arguments")
        first = arguments.named_children[0] if arguments and arguments.named_children else None
        return string(first)

    def _globals(self) -> None:
        guarded = {
            name
            for name, uses in self.references.items()
            if any(_typeof_operand(use) for use in uses)
        }
        for name, uses in self.references.items():
            if name in GLOBALS or name in guarded or not self._free(name):
                continue
            self.facts.globals_read.append(Sighting(line(uses[0]), name))
        self.facts.globals_read.sort(key=lambda s: (s.line, s.name))

    def _members(self) -> None:
        seen_inputs: set[str] = set()
        for node in self.members:
            holder = node.child_by_field_name("object")
            holder_text = text(holder) if holder is not None else ""
            if node.type == "member_expression":
                key: str | None = text(node.child_by_field_name("property"))
            else:
                key = string(node.child_by_field_name("index"))
            if holder_text == "inputs" and self._free("inputs") and key is not None:
                if key not in seen_inputs:
                    seen_inputs.add(key)
                    self.facts.inputs_read.append(Sighting(line(node), key, f"inputs.{key}"))
            elif holder_text == "process" and key == "env" and self._free("process"):
                variable = _environment_variable(node)
                detail = f"process.env.{variable}" if variable else "process.env"
                self.facts.environment.append(Sighting(line(node), variable, detail))

    def _calls(self) -> None:
        flow = FlowGraph(self.root, self.references)
        for call in self.calls:
            callee = call.child_by_field_name("function")
            if callee is None:
                continue
            self._module_call(call, callee)
            detail = _short(call)
            name = text(callee)
            if callee.type == "identifier" and name in NETWORK_FUNCTIONS and self._free(name):
                self.facts.network.append(Sighting(line(call), name, detail))
            if self._writes_file(callee):
                self.facts.file_writes.append(Sighting(line(call), text(callee), detail))
            if self._random_call(callee):
                paths = flow.paths(call)
                self.facts.nondeterminism.append(Sighting(line(call), detail, detail, paths))
        for construction in self.constructions:
            constructor = text(construction.child_by_field_name("constructor"))
            arguments = construction.child_by_field_name("arguments")
            detail = _short(construction)
            if constructor in NETWORK_CONSTRUCTORS and self._free(constructor):
                self.facts.network.append(Sighting(line(construction), constructor, detail))
            now = arguments is None or not arguments.named_children
            if constructor == "Date" and self._free("Date") and now:
                paths = flow.paths(construction)
                sighting = Sighting(line(construction), "new Date()", detail, paths)
                self.facts.nondeterminism.append(sighting)
        for module in self.facts.modules:
            if module.name and module_root("javascript", module.name) in NETWORK_MODULES:
                detail = f"require('{module.name}')"
                self.facts.network.append(Sighting(module.line, module.name, detail))
        for found in (self.facts.network, self.facts.nondeterminism, self.facts.modules):
            found.sort(key=lambda s: s.line)

    def _module_call(self, call: Node, callee: Node) -> None:
        arguments = call.child_by_field_name("arguments")
        first = arguments.named_children[0] if arguments and arguments.named_children else None
        if callee.type == "import":
            kind = "import"
        elif callee.type == "identifier" and text(callee) == "require" and self._free("require"):
            kind = "require"
        else:
            return
        specifier = string(first)
        if specifier is None:
            self.facts.modules.append(Sighting(line(call), "", "dynamic"))
        elif specifier.startswith((".", "/")):
            self.facts.modules.append(Sighting(line(call), specifier, "relative"))
        else:
            self.facts.modules.append(Sighting(line(call), specifier, kind))

    def _module_of(self, node: Node | None) -> str | None:
        """The module `node` stands for: an alias of a `require`, or a `require` call."""
        if node is None:
            return None
        if node.type == "identifier":
            return self.aliases.get(text(node))
        return self._required(node)

    def _writes_file(self, callee: Node) -> bool:
        if callee.type == "identifier":
            module, exported = self.imported.get(text(callee), ("", ""))
            return module in FS_MODULES and exported in FS_WRITE_METHODS
        if callee.type != "member_expression":
            return False
        if text(callee.child_by_field_name("property")) not in FS_WRITE_METHODS:
            return False
        holder = callee.child_by_field_name("object")
        if _is_promises(holder):  # `fs.promises.writeFile`
            holder = holder.child_by_field_name("object")  # type: ignore[union-attr]
        return self._module_of(holder) in FS_MODULES

    def _random_call(self, callee: Node) -> bool:
        if callee.type == "identifier":
            name = text(callee)
            module, exported = self.imported.get(name, ("", ""))
            if module_root("javascript", module) in RANDOM_MODULES:
                return True
            if module in ("crypto", "node:crypto") and exported in _RANDOM_MEMBERS["crypto"]:
                return True
            if module_root("javascript", self.aliases.get(name, "")) in RANDOM_MODULES:
                return True
            return name == "Date" and self._free("Date")
        if callee.type != "member_expression":
            return False
        holder = callee.child_by_field_name("object")
        method = text(callee.child_by_field_name("property"))
        holder_text = text(holder)
        module = self._module_of(holder) or ""
        if module_root("javascript", module) in RANDOM_MODULES:
            return True
        if module in ("crypto", "node:crypto"):
            holder_text = "crypto"
        elif holder is not None and holder.type == "identifier" and not self._free(holder_text):
            return False
        return method in _RANDOM_MEMBERS.get(holder_text, ())

    def _output(self) -> None:
        channels: set[str] = set()
        assigned: set[str] = set()
        for child in self.root.named_children:
            if child.type in ("lexical_declaration", "variable_declaration"):
                for declarator in child.named_children:
                    assigned.update(text(n) for n in declared(declarator))
            elif child.type in NAMED:
                assigned.update(text(n) for n in declared(child))
        for node in walk(self.root):
            if node.type == "return_statement" and _top_level(node):
                channels.add("return")
            elif node.type == "assignment_expression":
                assigned.update(text(n) for n in declared(node))
        if "result" in assigned or "result" in self.bound:
            channels.add("result")
        statements = [c for c in self.root.named_children if c.type not in ("comment",)]
        if statements and statements[-1].type == "expression_statement":
            channels.add("last")
        self.facts.assigned = frozenset(assigned)
        self.facts.output_channels = frozenset(channels)


def _is_promises(node: Node | None) -> bool:
    return (
        node is not None
        and node.type == "member_expression"
        and text(node.child_by_field_name("property")) == "promises"
    )


def _typeof_operand(node: Node) -> bool:
    parent = node.parent
    return (
        parent is not None
        and parent.type == "unary_expression"
        and parent.children[0].type == "typeof"
    )


def _environment_variable(env: Node) -> str:
    """The variable `process.env` is read for, when the code names it literally."""
    parent = env.parent
    if parent is None:
        return ""
    if parent.type == "member_expression" and parent.child_by_field_name("object") == env:
        return text(parent.child_by_field_name("property"))
    if parent.type == "subscript_expression" and parent.child_by_field_name("object") == env:
        return string(parent.child_by_field_name("index")) or ""
    if parent.type == "variable_declarator" and parent.child_by_field_name("value") == env:
        pattern = parent.child_by_field_name("name")
        if pattern is not None and pattern.type == "object_pattern":
            return ", ".join(text(n) for n in pattern_names(pattern))
    return ""


def _top_level(node: Node) -> bool:
    current = node.parent
    while current is not None:
        if current.type in FUNCTIONS:
            return False
        current = current.parent
    return True


def _short(node: Node) -> str:
    """How a call appears in the code, shortened for a report: `fetch(...)`."""
    callee = node.child_by_field_name("function") or node.child_by_field_name("constructor")
    arguments = node.child_by_field_name("arguments")
    prefix = "new " if node.type == "new_expression" else ""
    name = " ".join(text(callee).split())
    inside = "..." if arguments is not None and arguments.named_children else ""
    return f"{prefix}{name[:50]}({inside})" if name else text(node).splitlines()[0][:60]
