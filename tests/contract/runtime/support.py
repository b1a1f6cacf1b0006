"""The global names each runtime uses, read from the runtime's own source.

The lists are derived, not written down, so a global the runtime starts to use is covered
by the tests (and must be covered by the conformance cases) without anyone remembering to
add it: an input of that name must never break turnout's own code.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import re
import shutil
import subprocess

import tree_sitter
import tree_sitter_javascript

from turnout.contract.program import runtime_source

__all__ = ["javascript_globals", "python_builtins"]

# Names a CommonJS module sees beside the global object's own properties.
_MODULE_SCOPE = frozenset({"require", "module", "exports", "__filename", "__dirname"})
# The runtime's own names (a function, a parameter, generated calls), wherever they appear.
_OWN_NAME = re.compile(r"__turnout\w*")
# Node types of tree-sitter-javascript that read a variable (a property name does not).
_READS = frozenset({"identifier", "shorthand_property_identifier", "undefined"})


@functools.cache
def _node_globals() -> frozenset[str]:
    """Every own property of Node's global object as `node --eval` sees it (a superset of
    a script's: it also has the built-in modules, as a notebook kernel's cells do)."""
    node = shutil.which("node")
    assert node is not None, "node is needed to list its globals"
    listing = subprocess.run(
        [node, "--eval", "console.log(JSON.stringify(Object.getOwnPropertyNames(globalThis)))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return frozenset(json.loads(listing))


def _javascript_identifiers(source: bytes) -> set[str]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language()))
    found: set[str] = set()
    pending = [parser.parse(source).root_node]
    while pending:
        node = pending.pop()
        if node.type in _READS:
            found.add(source[node.start_byte : node.end_byte].decode("utf-8"))
        pending.extend(node.children)
    return found


@functools.cache
def javascript_globals() -> tuple[str, ...]:
    """Each name in the JavaScript runtime that is a global of Node (or of a CommonJS
    module), plus the runtime's own `__turnout` names."""
    source = runtime_source("javascript")
    names = _javascript_identifiers(source.encode("utf-8")) & (_node_globals() | _MODULE_SCOPE)
    return tuple(sorted(names | set(_OWN_NAME.findall(source))))


@functools.cache
def python_builtins() -> tuple[str, ...]:
    """Each name in the Python runtime that is a built-in, plus the runtime's own
    `__turnout` names."""
    source = runtime_source("python")
    names = {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    return tuple(sorted((names & set(vars(builtins))) | set(_OWN_NAME.findall(source))))
