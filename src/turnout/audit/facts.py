"""What a language analysis reports about a node's code, before anything is judged.

The Python and JavaScript analyses parse the code (Python's `ast`, tree-sitter) and fill
one `CodeFacts` each: the same vocabulary for both languages, so that judging the facts
against the node's inputs and the target (`code_checks`) is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from turnout.audit.findings import EnvelopePath

__all__ = ["ANY", "CodeFacts", "Sighting"]

#: A path segment standing for any key or index (a computed key, a mapped array).
ANY = None


@dataclass(frozen=True)
class Sighting:
    """One thing seen in the code: `name` is what (a global, a module specifier, an
    environment variable, ...; "" when it cannot be seen), `detail` how it appears in the
    code (`fetch(...)`, `open(..., 'w')`), `line` the user's line (1-based)."""

    line: int
    name: str
    detail: str = ""
    paths: tuple[EnvelopePath, ...] = ()


@dataclass
class CodeFacts:
    """Everything an analysis saw; empty lists mean "not seen"."""

    language: str
    syntax_error: Sighting | None = None
    typescript: list[Sighting] = field(default_factory=list)
    globals_read: list[Sighting] = field(default_factory=list)
    """Free names the code reads, first read of each (not reads guarded by `typeof`);
    `detail` names the `from m import *` they may come from, if the code has one."""
    inputs_read: list[Sighting] = field(default_factory=list)
    """Keys read through `inputs` (`inputs.x`, `inputs["x"]`), first read of each."""
    modules: list[Sighting] = field(default_factory=list)
    """Imported modules; `detail` is `import`, `require`, `esm` (an ES `import` statement),
    `relative` or `dynamic` (the specifier is not a literal: `name` is "")."""
    environment: list[Sighting] = field(default_factory=list)
    network: list[Sighting] = field(default_factory=list)
    file_writes: list[Sighting] = field(default_factory=list)
    nondeterminism: list[Sighting] = field(default_factory=list)
    """Sources of values that differ between runs; `paths` are the envelope places
    (`("output", "processedAt")`, `("stdout",)`) each visibly reaches."""
    assigned: frozenset[str] = frozenset()
    """Top-level names the code assigns or declares."""
    output_channels: frozenset[str] = frozenset()
    """Which output channels the code can produce: `return`, `result`, `last`."""
