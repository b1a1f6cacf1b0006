"""pytest helpers: the local E2B-compatible server as a fixture, leak-checked at teardown.

In a conftest.py:

    from turnout_e2b_server.testing import server_fixture

    e2b_server = server_fixture("--python-pool", "1", scope="session")

    async def test_something(e2b_server):
        sandbox = await AsyncSandbox.create(**e2b_server.sdk_options)

The fixture is a `turnout_e2b_server.supervisor.ServerProcess` (start, admin calls, stop
with its leak check), exported here too with the names tests use beside the fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from turnout_e2b_server.supervisor import ServerLeakError, ServerProcess, first_line

__all__ = ["ServerLeakError", "ServerProcess", "first_line", "server_fixture"]

Scope = Literal["session", "package", "module", "class", "function"]


def server_fixture(
    *args: str, scope: Scope = "session", api_key: str | None = None
) -> Callable[[], Iterator[ServerProcess]]:
    """A pytest fixture: a ServerProcess started with `args`, leak-checked at teardown."""
    import pytest  # here, so that importing this module needs no pytest

    @pytest.fixture(scope=scope)
    def _server() -> Iterator[ServerProcess]:
        with ServerProcess(*args, api_key=api_key) as server:
            yield server

    return _server
