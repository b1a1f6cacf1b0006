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
    """Keep structlog's default (stdout) renderer out of captured program output."""
    structlog.configure(
        processors=[structlog.processors.KeyValueRenderer()],
        logger_factory=structlog.ReturnLoggerFactory(),
    )
