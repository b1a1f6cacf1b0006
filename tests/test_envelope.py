"""Tests for turnout.envelope: the typed envelope reads and writes today's JSON shape
exactly, wrapped in the outputVariable where the node names one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.envelope import Envelope

BARE: dict[str, Any] = {
    "language": "python",
    "output": {"average": 7.25, "items": [1, "two", None]},
    "stdout": "averaging\n",
    "stderr": "careful\n",
    "logs": ["averaging", "ERROR: careful"],
    "metadata": {
        "executionTime": 41,
        "backend": "e2b",
        "executionId": "5b0c",
        "outputChannel": "return",
        "sandboxId": "sbx-1",
        "sandboxSeconds": 1.5,
        "poolIdleSeconds": 0.0,
        "costUsd": 4.2e-05,
        "truncated": True,
        "warnings": ["unknown config field 'memoryLimit' ignored"],
    },
}


def dumped(data: Any) -> str:
    """JSON as `turnout run --json` prints it."""
    return json.dumps(data, ensure_ascii=False, indent=2)


class TestShape:
    def test_a_bare_envelope_round_trips_byte_for_byte(self) -> None:
        """Every key, backend extras included, comes back in the same order."""
        assert dumped(Envelope.from_dict(BARE).to_dict()) == dumped(BARE)

    def test_a_wrapped_envelope_round_trips_and_names_its_variable(self) -> None:
        """`{var: envelope}` is read with its variable and written wrapped again."""
        envelope = Envelope.from_dict({"summary": BARE})
        assert envelope.output_variable == "summary"
        assert dumped(envelope.to_dict()) == dumped({"summary": BARE})
        assert dumped(envelope.to_dict(wrapped=False)) == dumped(BARE)

    def test_optional_metadata_is_absent_when_unset(self) -> None:
        """No sandboxId, truncated or warnings keys when there is nothing to say."""
        metadata = {"executionTime": 3, "backend": "x", "executionId": "i", "outputChannel": "none"}
        bare = {**BARE, "metadata": metadata}
        assert Envelope.from_dict(bare).to_dict()["metadata"] == metadata

    def test_typed_attributes(self) -> None:
        """Fixed metadata keys are typed attributes; backend extras stay reachable."""
        envelope = Envelope.from_dict(BARE)
        metadata = envelope.metadata
        assert (metadata.execution_time_ms, metadata.sandbox_id, metadata.truncated) == (
            41,
            "sbx-1",
            True,
        )
        assert metadata.extra == {"sandboxSeconds": 1.5, "poolIdleSeconds": 0.0, "costUsd": 4.2e-05}
        assert envelope.logs == ("averaging", "ERROR: careful")

    def test_a_wrong_channel_is_refused(self) -> None:
        """An output channel turnout does not write is a validation error."""
        with pytest.raises(ValueError, match="outputChannel"):
            Envelope.from_dict({**BARE, "metadata": {**BARE["metadata"], "outputChannel": "x"}})

    @given(
        output=st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner),
            max_leaves=8,
        ),
        extras=st.dictionaries(
            st.sampled_from(["costUsd", "sandboxSeconds", "x"]), st.floats(0, 9)
        ),
    )
    def test_any_output_and_extras_round_trip(self, output: Any, extras: dict[str, float]) -> None:
        """Whatever the output and the backend's extra keys, the JSON comes back equal."""
        metadata = {
            "executionTime": 1,
            "backend": "b",
            "executionId": "e",
            "outputChannel": "last",
            **extras,
        }
        bare = {**BARE, "output": output, "metadata": metadata}
        assert dumped(Envelope.from_dict(bare).to_dict()) == dumped(bare)


def test_what_turnout_run_prints_reads_back_byte_for_byte(tmp_path: Path) -> None:
    """The JSON `turnout run --json` prints for a wrapped node with warnings is, through
    Envelope.from_dict and to_dict, printed again identically."""
    config = tmp_path / "node.json"
    config.write_text(
        json.dumps(
            {
                "language": "python",
                "code": "print('é')\nreturn {'n': 1, 'text': 'ü'}",
                "outputVariable": "result",
                "memoryLimit": 64,
            }
        )
    )
    printed = subprocess.run(
        [
            *(sys.executable, "-m", "turnout.cli", "run", "--config", str(config)),
            *("--json", "--backend", "local-subprocess"),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TURNOUT_ENV": "test"},
    ).stdout
    parsed = json.loads(printed)
    assert list(parsed) == ["result"]
    assert dumped(Envelope.from_dict(parsed).to_dict()) + "\n" == printed
