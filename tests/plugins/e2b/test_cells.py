"""How a program is split into the runtime's cell and the node's timed cell."""

from __future__ import annotations

import time
from typing import Any

import pytest
from turnout_e2b.cells import INLINE_RESULT_BYTES, cells_for

from turnout.contract import prepare_request, runtime_source
from turnout.models import parse_config


def request(language: str, code: str = "return 1", max_result_bytes: int = 1 << 26) -> Any:
    config = parse_config({"language": language, "code": code})
    return prepare_request(
        config, {}, execution_id=f"c{time.time_ns()}", max_result_bytes=max_result_bytes
    )


def test_a_javascript_program_is_its_runtime_then_its_launcher() -> None:
    """The JavaScript runtime goes first, untouched; the node's cell is the launcher alone."""
    prepared = request("javascript")
    cells = cells_for(prepared)
    runtime = runtime_source("javascript")
    assert cells.setup == runtime
    assert cells.run == prepared.program[len(runtime) :]
    assert cells.run.strip().startswith("__turnout_run(")


def test_the_python_node_cell_holds_none_of_the_runtime() -> None:
    """The Python runtime travels packed in the setup cell; the node's cell is a few lines."""
    cells = cells_for(request("python"))
    assert cells.setup is not None
    assert "__turnout_inline_result" in cells.setup
    assert "def __turnout_run" not in cells.run
    assert len(cells.run.splitlines()) == 3
    assert cells.run.splitlines()[1].startswith("__turnout_run(")


@pytest.mark.parametrize(("limit", "expected"), [(1024, 1024), (1 << 26, INLINE_RESULT_BYTES)])
def test_the_inline_result_never_exceeds_the_result_limit(limit: int, expected: int) -> None:
    """The cell returns a result file inline only up to the smaller of both limits."""
    cells = cells_for(request("python", max_result_bytes=limit))
    assert cells.run.rstrip().endswith(f", {expected})")


@pytest.mark.parametrize("language", ["python", "javascript"])
def test_a_program_without_the_runtime_is_sent_whole(language: str) -> None:
    """A request built by other code than turnout's contract runs as one timed cell."""
    foreign = request(language).model_copy(update={"program": "print(1)\n"})
    cells = cells_for(foreign)
    assert (cells.setup, cells.run) == (None, "print(1)\n")
