"""One definition of "the same envelope": shadow comparison and the parity differential
normalize alike, and each rendering says where two outcomes differ."""

from __future__ import annotations

import time
from typing import Any

import pytest

from turnout.comparison import compare_outcomes
from turnout.conformance.differential import normalize
from turnout.conformance.expectations import Observation
from turnout.errors import CodeExecutionError
from turnout.normalization import ErrorInfo, describe_differences, differing_paths
from turnout.normalization import normalize as normalize_outcome

NOW = time.time()


def envelope(**fields: Any) -> dict[str, Any]:
    metadata = fields.pop("metadata", {})
    return {
        "language": "python",
        "output": 1,
        "stdout": "",
        "stderr": "",
        "logs": [],
        **fields,
        "metadata": {
            "executionTime": 5,
            "backend": "x",
            "executionId": "id",
            "outputChannel": "return",
            **metadata,
        },
    }


def error(**details: Any) -> CodeExecutionError:
    return CodeExecutionError("runtime", "ValueError: x", line=1, name="ValueError", **details)


#: Pairs of outcomes the two comparisons used to judge differently.
PAIRS: dict[str, tuple[Any, Any]] = {
    "temporary path in stdout": (
        envelope(stdout="wrote /tmp/turnout-local-ab12cd/out.csv\n"),
        envelope(stdout="wrote /tmp/turnout-local-zz99yy/out.csv\n"),
    ),
    "a backend's own metadata key": (
        envelope(),
        envelope(metadata={"region": "eu-west-1"}),
    ),
    "truncated written or left out": (
        envelope(metadata={"truncated": False}),
        envelope(),
    ),
    "an integral float": (envelope(output=[3.0]), envelope(output=[3])),
    "error stderr": (error(stderr="a\n"), error(stderr="b\n")),
    "error name": (
        CodeExecutionError("runtime", "boom", line=1, name="ValueError"),
        CodeExecutionError("runtime", "boom", line=1, name="TypeError"),
    ),
}


def _observation(outcome: Any) -> Observation:
    if isinstance(outcome, CodeExecutionError):
        return Observation(None, ErrorInfo.from_exception(outcome), 0.0)
    return Observation.from_return(outcome, 0.0)


class TestOneDefinition:
    @pytest.mark.parametrize(("one", "two"), PAIRS.values(), ids=PAIRS.keys())
    def test_shadow_comparison_and_the_differential_agree(self, one: Any, two: Any) -> None:
        """The shadow comparison in production and the parity differential call the same
        pairs of outcomes the same."""
        shadow_same = compare_outcomes(one, two, now=NOW).verdict == "match"
        parity_same = not describe_differences(
            normalize(_observation(one), now=NOW), normalize(_observation(two), now=NOW)
        )
        assert shadow_same == parity_same


class TestNormalize:
    def test_a_temporary_path_in_the_output_is_compared(self) -> None:
        """A path the node returns is data the workflow passes on: it is not masked."""
        path = "/tmp/turnout-local-ab12cd/out.csv"
        assert normalize_outcome(envelope(output=path), now=NOW)["output"] == path

    def test_run_metadata_is_left_out(self) -> None:
        """Of metadata only what describes the result stays, with its defaults filled in."""
        normalized = normalize_outcome(
            envelope(metadata={"costUsd": 0.1, "sandboxId": "s"}), now=NOW
        )
        assert normalized["metadata"] == {
            "outputChannel": "return",
            "truncated": False,
            "warnings": [],
        }

    def test_current_time_is_compared_as_it_is_without_a_moment(self) -> None:
        """With `now=None` a clock reading stays, so two runs can be seen to differ in time."""
        reading = int(time.time() * 1000)
        assert normalize_outcome(envelope(output=reading), now=None)["output"] == reading


class TestRenderings:
    def test_differing_paths_carry_no_values(self) -> None:
        """The rendering for logs names the place and the types, never the user's value."""
        one = normalize_outcome(envelope(output={"card": "4111-1111"}), now=NOW)
        two = normalize_outcome(envelope(output={"card": "4242-4242"}), now=NOW)
        [difference] = differing_paths(one, two)
        assert difference.to_log() == {
            "path": "$.output.card",
            "difference": "value",
            "authoritative": "str",
            "candidate": "str",
        }

    def test_readable_differences_name_metadata_fields_by_their_envelope_path(self) -> None:
        """A report line names a metadata field as the envelope has it, with both values."""
        one = normalize_outcome(envelope(metadata={"warnings": ["a"]}), now=NOW)
        two = normalize_outcome(envelope(), now=NOW)
        assert describe_differences(one, two, names=("local", "e2b")) == [
            'metadata.warnings: local 1 items, e2b 0: only local: "a"'
        ]

    def test_readable_differences_skip_ignored_fields(self) -> None:
        """A field named in `ignore` is not reported."""
        one = normalize_outcome(envelope(metadata={"warnings": ["a"]}), now=NOW)
        two = normalize_outcome(envelope(), now=NOW)
        assert describe_differences(one, two, ignore=["metadata.warnings"]) == []
