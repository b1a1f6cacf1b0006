"""Property tests of rollout identity through turnout.Client: for any flags and ids, the
same ids get the same stage every time, in this process and in another one, executions
get the stage `explain` gives, and an execution without ids gets the environment's stage."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
import textwrap
from typing import Any, ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout import Client, hookimpl
from turnout.backend import BackendSettings
from turnout.flags import BUCKETING_KEYS, STAGES
from turnout.logging import capture_logs
from turnout.models import Capabilities, ExecutionRequest, ExecutionResult
from turnout.registry import BackendRegistry, discover

ENV = "prop"
IDS = st.none() | st.text(min_size=1, max_size=12)
NAMES = st.text(alphabet="abcdefgh-0123", min_size=1, max_size=6)


@st.composite
def environments(draw: st.DrawFn, legacy: str = "local-subprocess", target: str = "e2b") -> Any:
    """One environment's flags as data: any stage, rollout, bucketing keys and overrides."""
    stage = draw(st.sampled_from(STAGES))
    others = [name for name in STAGES if name != stage]
    rollout: dict[str, int] = {}
    left = 100
    for name in draw(st.lists(st.sampled_from(others), unique=True, max_size=3)):
        share = draw(st.integers(0, left))
        rollout[name], left = share, left - share
    keys = draw(st.lists(st.sampled_from(BUCKETING_KEYS), min_size=1, max_size=3, unique=True))
    settings: dict[str, Any] = {
        "legacy_backend": legacy,
        "target_backend": target,
        "stage": stage,
        "rollout": rollout,
        "bucket_by": keys,
        "overrides": {
            "tenants": draw(st.dictionaries(NAMES, st.sampled_from(STAGES), max_size=2)),
            "workflows": draw(st.dictionaries(NAMES, st.sampled_from(STAGES), max_size=2)),
        },
    }
    if draw(st.booleans()):
        settings["rollout_group"] = draw(NAMES)
    return {"schema_version": 1, "environments": {ENV: settings}}


ID_SETS = st.fixed_dictionaries({"tenant_id": IDS | NAMES, "workflow_id": IDS, "execution_id": IDS})


def expected_without_ids(client: Client) -> str:
    """The stage of an execution without ids: `stage`, unless one stage has every bucket."""
    flags = client.flags.environment(ENV)
    ranges = flags.stage_ranges
    return ranges[0][0] if len(ranges) == 1 else flags.stage


@settings(max_examples=25, deadline=None)
@given(flags=environments(), ids=ID_SETS)
def test_the_same_ids_get_the_same_stage_in_10000_calls(
    flags: dict[str, Any], ids: dict[str, str | None]
) -> None:
    """10,000 decisions for the same ids under the same flags are one stage."""
    client = Client(flags, ENV)
    assert len({client.explain(**ids).stage for _ in range(10_000)}) == 1


@settings(max_examples=50, deadline=None)
@given(flags=environments())
def test_no_id_means_the_environments_stage(flags: dict[str, Any]) -> None:
    """Without any id, the decision is the environment's `stage` (or the one stage every
    bucket belongs to)."""
    client = Client(flags, ENV)
    assert client.explain().stage == expected_without_ids(client)


DECIDE_ELSEWHERE = textwrap.dedent(
    """
    import json, sys
    from turnout import Client
    cases = json.load(sys.stdin)
    print(json.dumps([Client(flags, "prop").explain(**ids).stage for flags, ids in cases]))
    """
)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(st.tuples(environments(), ID_SETS), min_size=40, max_size=40))
def test_another_process_makes_the_same_decisions(
    cases: list[tuple[dict[str, Any], dict[str, str | None]]],
) -> None:
    """A separate interpreter (its own hash seed) gives every case the same stage."""
    here = [Client(flags, ENV).explain(**ids).stage for flags, ids in cases]
    there = subprocess.run(
        [sys.executable, "-c", DECIDE_ELSEWHERE],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(there.stdout) == here


class Instant:
    """A backend that answers at once, so that many executions cost little."""

    id: ClassVar[str] = "instant"

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            languages=frozenset({"python"}),
            isolation="process",
            network_access=False,
            max_timeout_ms=300_000,
            max_output_bytes=1024,
            max_result_bytes=1024,
            memory_limit_mb=None,
            memory_enforcement="none",
        )

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        return ExecutionResult(result=b'{"ok": true, "channel": "return", "value": 1}')

    async def aclose(self) -> None:
        return None


class InstantLegacy(Instant):
    id: ClassVar[str] = "instant-legacy"


class InstantTarget(Instant):
    id: ClassVar[str] = "instant-target"


class InstantPlugin:
    __name__ = "instant-backends"

    @staticmethod
    @hookimpl
    def turnout_register_backends(registry: Any) -> None:
        registry.add(InstantLegacy)
        registry.add(InstantTarget)


@functools.cache
def instant_registry() -> BackendRegistry:
    return discover(extra_plugins=[InstantPlugin()])


@settings(max_examples=40, deadline=None)
@given(
    flags=environments(legacy="instant-legacy", target="instant-target"),
    ids=ID_SETS | st.just({}),
)
def test_executions_get_the_stage_explain_gives(
    flags: dict[str, Any], ids: dict[str, str | None]
) -> None:
    """Executions with the same ids (or none) all run at the stage `explain` gives for
    those ids; without ids, the environment's stage."""

    async def run() -> set[str]:
        async with Client(flags, ENV, registry=instant_registry()) as client:
            with capture_logs() as logs:
                for _ in range(6):
                    await client.execute({"language": "python", "code": "return 1"}, {}, **ids)
        return {e["stage"] for e in logs if e["event"] == "code_node_executed"}

    client = Client(flags, ENV, registry=instant_registry())
    expected = client.explain(**ids).stage
    assert asyncio.run(run()) == {expected}
    if not any(ids.values()):
        assert expected == expected_without_ids(client)
