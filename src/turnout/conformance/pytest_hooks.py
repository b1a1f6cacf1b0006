"""Hooks a conftest.py may implement to point the conformance plugin at its backends.

Both are `firstresult`: the first conftest or plugin that returns something wins.

    # conftest.py of a third-party backend
    def pytest_turnout_conformance_registry(config):
        from turnout.registry import discover
        import my_backend.plugin
        return discover(extra_plugins=[my_backend.plugin])

    def pytest_turnout_conformance_backends(config, registry):
        return ["my-backend", "local-subprocess"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from turnout.registry import BackendRegistry

__all__ = ["pytest_turnout_conformance_backends", "pytest_turnout_conformance_registry"]


@pytest.hookspec(firstresult=True)
def pytest_turnout_conformance_registry(config: pytest.Config) -> BackendRegistry | None:
    """The registry whose backends are tested (default: discovered from entry points)."""


@pytest.hookspec(firstresult=True)
def pytest_turnout_conformance_backends(
    config: pytest.Config, registry: BackendRegistry
) -> list[str] | None:
    """Backend ids to test when no --conformance-backend is given (default: all)."""
