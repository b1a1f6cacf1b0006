"""The worker's activity slots: the smallest max_concurrency of the backends that answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from turnout_temporal.concurrency import answering_backends, max_concurrent_activities

from turnout import Engine
from turnout.flags import EnvironmentFlags, parse_flags

BASE = """schema_version = 1
[environments.prod]
legacy_backend = "local-subprocess"
target_backend = "e2b"
"""


def environment(settings: str) -> EnvironmentFlags:
    return parse_flags(BASE + settings).environment("prod")


class TestAnsweringBackends:
    @pytest.mark.parametrize(
        ("settings", "expected"),
        [
            ('stage = "off"', ["local-subprocess"]),
            ('stage = "shadow"', ["local-subprocess"]),
            ('stage = "live"', ["e2b"]),
            ('stage = "complete"', ["e2b"]),
            ('stage = "off"\nrollout = { live = 10 }', ["e2b", "local-subprocess"]),
            ('stage = "off"\nlegacy_allowed = false', ["e2b"]),
            (
                'stage = "rampdown"\n[environments.prod.overrides]\ntenants = { t = "off" }',
                ["e2b", "local-subprocess"],
            ),
        ],
    )
    def test_the_backends_of_every_reachable_stage(
        self, settings: str, expected: list[str]
    ) -> None:
        """Legacy answers off and shadow (unless killed), the target every other stage;
        rollout shares and overrides add their stages."""
        assert answering_backends(environment(settings)) == expected


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    flags = parse_flags(
        BASE
        + """stage = "off"
rollout = { live = 50 }
[environments.prod.backends.local-subprocess]
max_concurrency = 6
prestart_python = 0
[environments.prod.backends.e2b]
api_url = "http://127.0.0.1:9"
max_concurrency = 4
"""
    )
    engine = Engine("prod", flags=flags)
    yield engine
    await engine.aclose()


class TestMaxConcurrentActivities:
    def test_the_smallest_limit_of_the_answering_backends(self, engine: Engine) -> None:
        """Both backends answer (a 50% rollout): min(local 6, e2b 4) = 4 activities."""
        assert max_concurrent_activities(engine) == 4
