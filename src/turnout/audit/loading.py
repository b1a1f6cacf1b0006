"""Read the nodes to audit: node config files, directories of them, replay corpora.

- A `.jsonl` file is a replay corpus (docs/conformance.md#replaying-real-nodes), read by
  replay's own loader: each line gives a node's config, its workflow, and possibly a
  recorded context and outcome. A problem in it is an error naming `FILE:LINE`.
- A `.json` file is one node's stored config (`{"language": ..., "code": ...}`). Its id is
  its path (relative to the directory given), its workflow the directory holding it.
- A directory is searched recursively for both, in name order. A `.json` file in it that
  is not a node config (a context, a package.json) is skipped and listed as skipped; a
  file named on the command line must be a node.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turnout.conformance.replay import ExpectedOutcome, ReplayNode, load_corpus
from turnout.errors import ValidationError

__all__ = ["LoadedNodes", "NodeSource", "load_nodes"]


@dataclass(frozen=True)
class NodeSource:
    """One node as read: its stored config (raw, not yet validated), the context it ran
    with when one was recorded (else None), and its recorded outcome."""

    id: str
    workflow: str
    location: str
    config: Mapping[str, Any]
    context: Mapping[str, Any] | None = None
    expected: ExpectedOutcome | None = None
    replay: ReplayNode | None = None


@dataclass
class LoadedNodes:
    """The nodes found, and the files skipped on the way with the reason."""

    nodes: list[NodeSource] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def load_nodes(paths: Sequence[Path]) -> LoadedNodes:
    """Every node under `paths`; a path that does not exist is a `ValidationError`."""
    loaded = LoadedNodes()
    for path in paths:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl")):
                if found.is_file():
                    _load_file(found, path, loaded, named=False)
        elif path.is_file():
            _load_file(path, path.parent, loaded, named=True)
        else:
            raise ValidationError(
                str(path),
                "does not exist",
                "node config files (.json), replay corpora (.jsonl) or directories of them",
            )
    if not loaded.nodes:
        raise ValidationError(
            ", ".join(str(p) for p in paths),
            "holds no node configs",
            'JSON objects with "language" and "code", or replay corpora (.jsonl)',
        )
    return loaded


def _load_file(path: Path, root: Path, loaded: LoadedNodes, *, named: bool) -> None:
    if path.suffix == ".jsonl":
        loaded.nodes.extend(_from_replay(node, path) for node in load_corpus(path))
        return
    config, problem = _read_config(path)
    if config is None:
        if named:
            raise ValidationError(str(path), problem, 'a JSON object with "language" and "code"')
        loaded.skipped.append((str(path), problem))
        return
    relative = path.relative_to(root) if path.is_relative_to(root) else path
    workflow = relative.parent.name or root.resolve().name
    loaded.nodes.append(NodeSource(str(relative), workflow, str(path), config))


def _read_config(path: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return None, f"cannot be read: {error}"
    except ValueError as error:
        return None, f"not valid JSON: {error}"
    if not isinstance(data, dict) or not ({"language", "code"} & set(data)):
        return None, "not a node config (no language or code)"
    return data, ""


def _from_replay(node: ReplayNode, path: Path) -> NodeSource:
    return NodeSource(
        id=node.id,
        workflow=node.workflow,
        location=f"{path}:{node.line}",
        config=node.config,
        context=node.context if node.context_recorded else None,
        expected=node.expected,
        replay=node,
    )
