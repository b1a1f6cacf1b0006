"""What the audit judges against: the environment's real backends and their declarations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from turnout.audit.target import describe_target
from turnout.conformance.backends import build_engine
from turnout.engine import Engine
from turnout.errors import ConfigurationError, ValidationError


@pytest.fixture
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[Engine]:
    """The repository's flag file in the environment the test names (default `test`)."""
    built = build_engine(environment=getattr(request, "param", "test"))
    yield built
    await built.aclose()


async def test_the_environments_target_and_legacy_are_described(engine: Engine) -> None:
    """In `test`, the target is e2b and legacy local-subprocess, both with declarations."""
    target = describe_target(engine)
    assert (target.name, target.legacy and target.legacy.id) == ("e2b", "local-subprocess")
    assert target.provides("python", "json") is True
    assert target.provides("javascript", "lodash") is False
    assert target.legacy_provides("javascript", "fs/promises") is True


async def test_target_chooses_another_backend(engine: Engine) -> None:
    """--target names the backend to judge against; legacy is then the environment's."""
    target = describe_target(engine, "local-subprocess")
    assert (target.name, target.legacy) == ("local-subprocess", None)


async def test_an_unknown_target_is_invalid_input(engine: Engine) -> None:
    """A backend id nobody registered is a ValidationError listing the known ones."""
    with pytest.raises(ValidationError, match="e2b"):
        describe_target(engine, "firecracker")


@pytest.mark.parametrize("engine", ["production"], indirect=True)
async def test_a_target_that_cannot_load_says_why(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In production without E2B_API_KEY the e2b backend cannot load: a ConfigurationError."""
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    monkeypatch.delenv("E2B_API_URL", raising=False)
    with pytest.raises(ConfigurationError, match="E2B_API_KEY"):
        describe_target(engine)
