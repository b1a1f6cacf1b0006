from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from turnout_local_subprocess import LocalSubprocessBackend

from .support import BackendFactory, build_backend


@pytest.fixture
async def make_backend() -> AsyncIterator[BackendFactory]:
    """Build backends with the given options; every one is closed after the test."""
    built: list[LocalSubprocessBackend] = []

    def make(**options: Any) -> LocalSubprocessBackend:
        backend = build_backend(**options)
        built.append(backend)
        return backend

    yield make
    for backend in built:
        await backend.aclose()


@pytest.fixture
def backend(make_backend: BackendFactory) -> LocalSubprocessBackend:
    """A backend with default options (and this run's Python interpreter)."""
    return make_backend()
