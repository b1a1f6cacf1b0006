"""The conformance suite runs here on local-subprocess; the e2b column is enabled by adding
it below (or with `--conformance-backend e2b`) once its local server is ready."""

from __future__ import annotations

import pytest

from turnout.registry import BackendRegistry

from .support import no_flag_file

__all__ = ["no_flag_file", "pytest_turnout_conformance_backends"]

SUITE_BACKENDS = ["local-subprocess"]


def pytest_turnout_conformance_backends(
    config: pytest.Config, registry: BackendRegistry
) -> list[str]:
    """Backends the repository's own run of the suite covers by default."""
    return SUITE_BACKENDS
