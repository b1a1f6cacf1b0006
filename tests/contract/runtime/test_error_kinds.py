"""Every error kind the runtimes report is one of `turnout.errors.ErrorKind`, the one
definition the decoder and the conformance case schema derive theirs from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest

import turnout.contract.runtime
from turnout.conformance.case_schema import ErrorExpectation
from turnout.errors import ErrorKind

RUNTIME = Path(next(iter(turnout.contract.runtime.__path__)))
#: How each runtime writes a kind into its outcome: `"kind": "x"` or `error_outcome(exc, "x")`
#: in Python, `kind: 'x'` or `kind = 'x'` in JavaScript.
KIND_PATTERNS = {
    "python_runtime.py": r"\"kind\": \"(\w+)\"|error_outcome\(\w+, \"(\w+)\"\)",
    "js_runtime.js": r"\bkind(?::| =) '(\w+)'",
}


def kinds_written_by(runtime: str) -> set[str]:
    source = (RUNTIME / runtime).read_text(encoding="utf-8")
    found = re.finditer(KIND_PATTERNS[runtime], source)
    return {kind for match in found for kind in match.groups() if kind}


@pytest.mark.parametrize("runtime", KIND_PATTERNS)
def test_every_kind_a_runtime_reports_is_an_error_kind(runtime: str) -> None:
    """A runtime reports no kind outside ErrorKind (the decoder would call it `runtime`)."""
    found = kinds_written_by(runtime)
    assert {"syntax", "runtime", "output_not_serializable"} <= found  # the patterns still read
    assert found <= set(get_args(ErrorKind))


def test_a_case_may_expect_exactly_the_error_kinds() -> None:
    """The case schema accepts every ErrorKind and nothing else."""
    for kind in get_args(ErrorKind):
        assert ErrorExpectation(kind=kind).kind == kind
    with pytest.raises(ValueError, match="kind"):
        ErrorExpectation(kind="segfault")  # type: ignore[arg-type]
