"""Reading the nodes to audit: config files, directories, replay corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from turnout.audit.loading import load_nodes
from turnout.errors import ValidationError

CONFIG = {"language": "python", "code": "result = 1"}


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_directory_is_searched_recursively_in_name_order(tmp_path: Path) -> None:
    """Configs in subdirectories are found; each id is its path, its workflow its directory."""
    write(tmp_path / "billing" / "b.json", CONFIG)
    write(tmp_path / "billing" / "a.json", CONFIG)
    write(tmp_path / "crm" / "sync" / "c.json", CONFIG)
    loaded = load_nodes([tmp_path])
    assert [(n.id, n.workflow) for n in loaded.nodes] == [
        ("billing/a.json", "billing"),
        ("billing/b.json", "billing"),
        ("crm/sync/c.json", "sync"),
    ]
    assert all(n.context is None for n in loaded.nodes)


def test_json_that_is_not_a_node_is_skipped_in_a_directory(tmp_path: Path) -> None:
    """A context file or a broken file beside the nodes is skipped, with the reason."""
    write(tmp_path / "node.json", CONFIG)
    write(tmp_path / "context.json", {"numbers": [1]})
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    loaded = load_nodes([tmp_path])
    assert [n.id for n in loaded.nodes] == ["node.json"]
    assert sorted(Path(path).name for path, _ in loaded.skipped) == ["broken.json", "context.json"]


def test_a_named_file_that_is_not_a_node_is_an_error(tmp_path: Path) -> None:
    """Naming a file that is not a node config is a mistake: a ValidationError."""
    path = write(tmp_path / "context.json", {"numbers": [1]})
    with pytest.raises(ValidationError, match="not a node config"):
        load_nodes([path])


def test_a_replay_corpus_keeps_ids_workflows_and_recorded_contexts(tmp_path: Path) -> None:
    """A line with a context has it; a line without one has none (not an empty one)."""
    corpus = tmp_path / "nodes.jsonl"
    corpus.write_text(
        json.dumps({"id": "a", "workflow": "wf", "config": CONFIG, "context": {"x": 1}})
        + "\n"
        + json.dumps({"config": CONFIG})
        + "\n",
        encoding="utf-8",
    )
    nodes = load_nodes([corpus]).nodes
    assert [(n.id, n.workflow, n.context) for n in nodes] == [
        ("a", "wf", {"x": 1}),
        ("line-2", "nodes", None),
    ]
    assert nodes[0].location == f"{corpus}:1"


def test_a_broken_corpus_line_is_an_error_naming_it(tmp_path: Path) -> None:
    """Replay's own loader reads corpora: a bad line is refused with FILE:LINE."""
    corpus = tmp_path / "nodes.jsonl"
    corpus.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"nodes\.jsonl:1"):
        load_nodes([tmp_path])


def test_a_missing_path_or_no_node_at_all_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist, or a directory without nodes, is a ValidationError."""
    with pytest.raises(ValidationError, match="does not exist"):
        load_nodes([tmp_path / "nope"])
    with pytest.raises(ValidationError, match="holds no node configs"):
        load_nodes([tmp_path])
