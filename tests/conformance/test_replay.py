"""Replay corpora: parsing, matching recorded outcomes by value and time shape, and the
differential across backends."""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from turnout.conformance.replay import load_corpus, matches_expected, replay, replay_report
from turnout.errors import ValidationError

from .support import failure, fake_backend, make_runner, success

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "replay"
NODE = {
    "config": {"language": "python", "code": "return 1", "sideEffectFree": True},
    "context": {"a": 1},
}
UNMARKED = {"config": {"language": "python", "code": "return 1"}, "context": {"a": 1}}


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


class TestIgnore:
    def test_ignore_paths_are_parsed(self, tmp_path: Path) -> None:
        """A node's `ignore` list becomes its ignore paths."""
        [node] = load_corpus(corpus(tmp_path, {**NODE, "ignore": ["output.id", "stdout"]}))
        assert [path.text for path in node.ignore] == ["output.id", "stdout"]

    def test_a_malformed_ignore_path_names_the_line(self, tmp_path: Path) -> None:
        """A path outside the output is refused, naming FILE:LINE and the key."""
        with pytest.raises(ValidationError) as caught:
            load_corpus(corpus(tmp_path, NODE, {**NODE, "id": "b", "ignore": ["outputs.id"]}))
        assert caught.value.field.endswith("nodes.jsonl:2")
        assert "ignore.0" in caught.value.message

    def test_an_ignored_output_place_is_not_compared_with_the_recording(
        self, tmp_path: Path
    ) -> None:
        """A random id under an ignored path may differ from the recorded one."""
        [node] = load_corpus(
            corpus(
                tmp_path,
                {**NODE, "ignore": ["output.id"], "expected": {"output": {"id": "a1", "n": 1}}},
            )
        )
        assert matches_expected(node, success({"id": "f7", "n": 1})) == []
        assert matches_expected(node, success({"id": "f7", "n": 2}))

    def test_an_ignored_stream_is_not_compared_with_the_recording(self, tmp_path: Path) -> None:
        """An ignored stdout may differ from the recorded one."""
        [node] = load_corpus(
            corpus(tmp_path, {**NODE, "ignore": ["stdout"], "expected": {"stdout": "a\n"}})
        )
        assert matches_expected(node, success(1, stdout="b\n")) == []


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

    def test_a_line_nested_too_deeply_names_file_and_line(self, tmp_path: Path) -> None:
        """A line of 100,000 nested arrays is a ValidationError at FILE:LINE, not a crash."""
        with pytest.raises(ValidationError) as caught:
            load_corpus(corpus(tmp_path, NODE, "[" * 100_000 + "]" * 100_000))
        assert caught.value.field.endswith("nodes.jsonl:2")
        assert "nested too deeply" in caught.value.problem

    def test_a_path_with_a_nul_byte_is_a_validation_error(self) -> None:
        """A corpus path containing NUL is refused as unreadable, not a ValueError traceback."""
        with pytest.raises(ValidationError, match="cannot be read"):
            load_corpus(Path("nodes\x00.jsonl"))

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

    def test_an_epoch_inside_an_output_string_matches_a_recorded_one(self, tmp_path: Path) -> None:
        """`'saga_' + Date.now()` recorded last year matches today's run."""
        node = node_expecting(tmp_path, {"output": {"saga": "saga_1710408413589"}})
        observed = success({"saga": f"saga_{int(time.time() * 1000)}"})
        assert matches_expected(node, observed) == []

    def test_an_iso_date_inside_an_output_string_matches_a_recorded_one(
        self, tmp_path: Path
    ) -> None:
        """A report title holding today's date matches the recorded title of its day."""
        node = node_expecting(tmp_path, {"output": "Weekly report 2025-03-14 (final)"})
        today = datetime.datetime.now(datetime.UTC).date().isoformat()
        assert matches_expected(node, success(f"Weekly report {today} (final)")) == []

    def test_the_text_around_a_reading_is_still_compared(self, tmp_path: Path) -> None:
        """Only the reading is compared by kind: a changed prefix is a difference."""
        node = node_expecting(tmp_path, {"output": "saga_1710408413589"})
        [problem] = matches_expected(node, success(f"sagas_{int(time.time() * 1000)}"))
        assert problem.startswith(
            'output: expected "saga_1710408413589", got "sagas_<now:epoch-ms>"'
        )

    def test_a_fixed_date_in_text_is_compared_exactly(self, tmp_path: Path) -> None:
        """A date far from the clock is data, not a reading: it must match exactly."""
        node = node_expecting(tmp_path, {"output": "due 2020-01-01"})
        assert matches_expected(node, success("due 2020-01-02"))

    def test_epochs_in_stdout_and_stderr_are_compared_by_kind(self, tmp_path: Path) -> None:
        """Printed epochs are masked like printed date-times, in both streams."""
        node = node_expecting(
            tmp_path, {"stdout": "started 1710408413589\n", "stderr": "at 1710408413\n"}
        )
        moment = time.time()
        observed = success(1, stdout=f"started {int(moment * 1000)}\n")
        observed = replace(
            observed, envelope={**observed.envelope, "stderr": f"at {int(moment)}\n"}
        )
        assert matches_expected(node, observed) == []

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

    async def test_a_current_epoch_inside_text_is_no_difference_across_backends(
        self, tmp_path: Path
    ) -> None:
        """`'saga_' + Date.now()` differs by milliseconds across backends: not a difference."""
        nodes = load_corpus(corpus(tmp_path, NODE))
        now_ms = int(time.time() * 1000)
        runner = make_runner(
            fake_backend("ref", value=f"saga_{now_ms}"),
            fake_backend("target", value=f"saga_{now_ms + 7}"),
        )
        assert [result.status for result in await replay(runner, nodes)] == ["pass", "pass"]

    async def test_an_ignored_path_is_no_difference_across_backends(self, tmp_path: Path) -> None:
        """A node's ignore paths apply to the differential too."""
        nodes = load_corpus(corpus(tmp_path, {**NODE, "ignore": ["output.id"]}))
        runner = make_runner(
            fake_backend("ref", value={"id": "a"}), fake_backend("target", value={"id": "b"})
        )
        assert [result.status for result in await replay(runner, nodes)] == ["pass", "pass"]

    async def test_an_unmarked_node_runs_on_the_reference_only(self, tmp_path: Path) -> None:
        """A node not marked side-effect-free runs once, on the reference; the target's
        row is a skip that says why, and the verdict does not count it as parity."""
        nodes = load_corpus(corpus(tmp_path, UNMARKED))
        ref, target = fake_backend("ref", value=1), fake_backend("target", value=1)
        runner = make_runner(ref, target)
        reference, skipped = await replay(runner, nodes)
        assert (reference.status, skipped.status) == ("pass", "skip")
        assert skipped.reason.startswith("not marked side-effect-free: run on ref only")
        assert target.executions == []  # type: ignore[attr-defined]
        report = replay_report(
            nodes, [reference, skipped], backends=runner.backends, reference="ref", source="x"
        )
        assert not report.verdict.deletable

    async def test_run_side_effects_runs_an_unmarked_node_everywhere(self, tmp_path: Path) -> None:
        """With the explicit option, an unmarked node runs on every backend."""
        nodes = load_corpus(corpus(tmp_path, UNMARKED))
        runner = make_runner(fake_backend("ref", value=1), fake_backend("target", value=1))
        results = await replay(runner, nodes, run_side_effects=True)
        assert [result.status for result in results] == ["pass", "pass"]

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
