"""Test-wide setup: every test reads the repository's flag file in the `test` environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from turnout.log_output import reset as reset_logging

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TURNOUT_FLAGS_FILE", str(ROOT / "feature_flags.toml"))
os.environ.setdefault("TURNOUT_ENV", "test")


#: The tests this session collected and then left out (`-m`, `-k`): tests/docs counts a
#: documented pytest selection among everything collected, without a pytest of its own.
DESELECTED = pytest.StashKey[list[pytest.Item]]()


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        items[0].config.stash.setdefault(DESELECTED, []).extend(items)


@pytest.fixture(autouse=True)
def _quiet_logging() -> None:
    """Start every test with turnout's logging as an application that configured nothing
    finds it (a CLI test may have attached its stderr handler and set a level)."""
    reset_logging()
