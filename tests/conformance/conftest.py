"""The conformance suite runs here on local-subprocess (`--conformance-backend e2b` adds the
e2b column). Its cases are marked `in_parity_run`: `python3 dev.py test` leaves them to its
parity run, which runs every case on both backends, instead of running them twice."""

from __future__ import annotations

import pytest

from turnout.registry import BackendRegistry

from .support import no_flag_file

__all__ = [
    "no_flag_file",
    "pytest_collection_modifyitems",
    "pytest_turnout_conformance_backends",
]

SUITE_BACKENDS = ["local-subprocess"]
SUITE_CASES = "tests/conformance/test_suite.py::test_case["


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the suite's cases `in_parity_run` (its properties are not in that run)."""
    for item in items:
        if item.nodeid.startswith(SUITE_CASES):
            item.add_marker(pytest.mark.in_parity_run)


def pytest_turnout_conformance_backends(
    config: pytest.Config, registry: BackendRegistry
) -> list[str]:
    """Backends the repository's own run of the suite covers by default."""
    return SUITE_BACKENDS
