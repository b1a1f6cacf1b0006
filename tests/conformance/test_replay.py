"""Replay corpora: parsing, matching recorded outcomes by value and time shape, and the
differential across backends."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import pytest

from turnout.conformance.replay import load_corpus, matches_expected, replay, replay_report
from turnout.errors import ValidationError

from .support import failure, fake_backend, make_runner, success

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "replay"
NODE = {"config": {"language": "python", "code": "return 1"}, "context": {"a": 1}}


def corpus(tmp_path: Path, *lines: Any) -> Path:
    path = tmp_path / "nodes.jsonl"
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n",
        encoding="utf-8",
    )
    return path


def node_expecting(tmp_path: Path, expected: dict[str, Any]) -> Any:
    [node] = load_corpus(corpus(tmp_path, {**NODE, "expected": expected}))
    return node


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


class TestLoadCorpus:
    def test_lines_become_nodes_with_default_ids_and_workflow(self, tmp_path: Path) -> None:
        """Without id and workflow, a node is `line-N` of the file's workflow."""
        [node] = load_corpus(corpus(tmp_path, NODE))
        assert (node.id, node.workflow, node.line) == ("line-1", "nodes", 1)

    def test_blank_lines_are_skipped(self, tmp_path: Path) -> None:
        """Blank lines between nodes do not count as nodes."""
        assert len(load_corpus(corpus(tmp_path, NODE, "", {**NODE, "id": "b"}))) == 2

    def test_invalid_json_names_file_and_line(self, tmp_path: Path) -> None:
        """A broken line is reported as FILE:LINE."""
        with pytest.raises(ValidationError) as caught:
            load_corpus(corpus(tmp_path, NODE, "{not json"))
        assert caught.value.field.endswith("nodes.jsonl:2")

    def test_an_unknown_key_is_refused(self, tmp_path: Path) -> None:
        """A misspelled key (expect instead of expected) is an error, not ignored."""
        with pytest.raises(ValidationError, match="expect"):
            load_corpus(corpus(tmp_path, {**NODE, "expect": {"output": 1}}))

    def test_a_repeated_id_is_refused(self, tmp_path: Path) -> None:
        """Node ids are unique within a corpus."""
        with pytest.raises(ValidationError, match="earlier line"):
            load_corpus(corpus(tmp_path, {**NODE, "id": "x"}, {**NODE, "id": "x"}))

    def test_an_expected_null_output_is_kept(self, tmp_path: Path) -> None:
        """`"output": null` is a recorded output of null, not an absent one."""
        assert node_expecting(tmp_path, {"output": None}).expects_output

    def test_the_example_corpus_parses(self) -> None:
        """The shipped example corpus is valid and holds 10 to 20 nodes."""
        assert 10 <= len(load_corpus(EXAMPLES / "workflows.jsonl")) <= 20


class TestMatchesExpected:
    def test_a_recorded_output_must_match(self, tmp_path: Path) -> None:
        """A different output is reported with its path."""
        node = node_expecting(tmp_path, {"output": {"n": 1}})
        assert matches_expected(node, success({"n": 2})) == ['output["n"]: expected 1, got 2']

    def test_a_current_timestamp_matches_any_recorded_timestamp(self, tmp_path: Path) -> None:
        """A value embedding the current time is compared by shape only."""
        node = node_expecting(tmp_path, {"output": {"at": "2025-03-14T09:26:53.589Z"}})
        assert matches_expected(node, success({"at": now_iso()})) == []

    def test_a_current_timestamp_does_not_match_a_non_timestamp(self, tmp_path: Path) -> None:
        """Shape-only comparison still needs a recorded value of the same kind."""
        node = node_expecting(tmp_path, {"output": {"at": "yesterday"}})
        assert matches_expected(node, success({"at": now_iso()}))

    def test_current_epoch_milliseconds_match_recorded_ones(self, tmp_path: Path) -> None:
        """Date.now() recorded last year matches Date.now() today."""
        node = node_expecting(tmp_path, {"output": 1710408413589})
        assert matches_expected(node, success(int(time.time() * 1000))) == []

    def test_timestamps_in_stdout_are_compared_by_shape(self, tmp_path: Path) -> None:
        """Printed date-times are compared as <iso-datetime>, the rest exactly."""
        node = node_expecting(tmp_path, {"stdout": "run at 2025-03-14T09:26:53Z\n"})
        assert matches_expected(node, success(1, stdout=f"run at {now_iso()}\n")) == []

    def test_a_recorded_error_must_be_raised(self, tmp_path: Path) -> None:
        """A node that failed in production must fail the same way."""
        node = node_expecting(tmp_path, {"error": {"kind": "import"}})
        assert matches_expected(node, success(1)) == [
            "expected CodeExecutionError (import), got success with output 1"
        ]

    def test_a_matching_error_passes(self, tmp_path: Path) -> None:
        """Kind, name and message fragments of a recorded error are checked."""
        node = node_expecting(tmp_path, {"error": {"kind": "runtime", "message_contains": ["bad"]}})
        assert matches_expected(node, failure("runtime", "ValueError: bad email")) == []


@pytest.mark.usefixtures("no_flag_file")
class TestReplay:
    async def test_a_node_that_differs_across_backends_fails_on_the_target(
        self, tmp_path: Path
    ) -> None:
        """Without a recorded outcome, a target must still agree with the reference."""
        nodes = load_corpus(corpus(tmp_path, NODE))
        runner = make_runner(fake_backend("ref", value=1), fake_backend("target", value=2))
        reference, target = await replay(runner, nodes)
        assert (reference.status, target.status) == ("pass", "fail")
        assert target.reason == "differs from ref: output: ref 1, target 2"

    async def test_the_report_is_a_replay_report(self, tmp_path: Path) -> None:
        """A replay report has one row per node and the same verdict rule."""
        nodes = load_corpus(corpus(tmp_path, NODE))
        runner = make_runner(fake_backend("ref", value=1), fake_backend("target", value=1))
        results = await replay(runner, nodes)
        report = replay_report(
            nodes, results, backends=runner.backends, reference="ref", source="nodes.jsonl"
        )
        assert (report.kind, [item.id for item in report.items]) == ("replay", ["line-1"])
        assert report.verdict.line.startswith("VERDICT: ref can be deleted: every node")
