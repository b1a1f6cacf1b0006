"""Test-wide setup: every test reads the repository's flag file in the `test` environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import structlog

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TURNOUT_FLAGS_FILE", str(ROOT / "feature_flags.toml"))
os.environ.setdefault("TURNOUT_ENV", "test")


@pytest.fixture(autouse=True)
def _quiet_structlog() -> None:
    """Start every test from one structlog configuration (a CLI test may have set a level
    filter that would hide later tests' events), rendering nothing to stdout."""
    structlog.reset_defaults()
    structlog.configure(
        processors=[structlog.processors.KeyValueRenderer()],
        logger_factory=structlog.ReturnLoggerFactory(),
    )
