"""Test-wide setup: every test reads the repository's flag file in the `test` environment."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.distributions import distribution_names, distribution_of, marker_name
from turnout.log_output import configure
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


_DISTRIBUTIONS = distribution_names()


def pytest_configure(config: pytest.Config) -> None:
    for distribution in sorted(set(_DISTRIBUTIONS.values())):
        config.addinivalue_line(
            "markers",
            f"{marker_name(distribution)}: a test of the {distribution} distribution "
            "(set from the test's directory; docs/development.md)",
        )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its distribution before `-m` selects, so that `-m turnout_serve`
    runs turnout-serve's tests and nothing else."""
    for item in items:
        item.add_marker(marker_name(distribution_of(item.path, _DISTRIBUTIONS)))


@pytest.fixture(autouse=True)
def _quiet_logging() -> None:
    """Start every test with turnout's logging as an application that configured nothing
    finds it (a CLI test may have attached its stderr handler and set a level)."""
    reset_logging()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """turnout's events rendered as JSON lines into a buffer, as `configure_logging` does."""
    stream = io.StringIO()
    configure("production", json_lines=True, stream=stream, level=logging.DEBUG)
    try:
        yield stream
    finally:
        reset_logging()


@pytest.fixture
def turnout_records() -> Iterator[list[logging.LogRecord]]:
    """Every record the `turnout` logger handles during the test, at every level, as an
    in-process reader (the chaos run, the service's metrics) receives them."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("turnout")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
