"""Every Python example of docs/embedding.md and of the README runs as it is written: each
code block is a complete program, run in a fresh interpreter, in an empty directory,
without any TURNOUT_* variable (so its flags come from the code)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("docs/embedding.md", "README.md")
_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def examples(page: str) -> list[str]:
    """The Python code blocks of `page`, in order."""
    return _BLOCK.findall((ROOT / page).read_text(encoding="utf-8"))


CASES = [
    pytest.param(code, id=f"{page}#{index + 1}")
    for page in PAGES
    for index, code in enumerate(examples(page))
]


def test_the_pages_have_examples() -> None:
    """The extraction finds the examples (a changed fence would otherwise test nothing)."""
    assert len(examples("docs/embedding.md")) >= 9
    assert len(examples("README.md")) >= 1


@pytest.mark.parametrize("code", CASES)
def test_example_runs(code: str, tmp_path: Path) -> None:
    """The example exits 0 (its own asserts hold) and writes nothing on stderr."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TURNOUT_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
