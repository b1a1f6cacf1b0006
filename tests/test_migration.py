"""The migration shim: the caller always gets the authoritative outcome, shadows never hurt it,
and fallback happens only before user code started.

The backends here are scripted in-test plugins: what is under test is the shim's semantics
(isolation, shedding, fallback rules), which must hold whatever a backend does.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from turnout import (
    BackendSettings,
    Capabilities,
    ConfigurationError,
    Engine,
    ExecutionRequest,
    ExecutionResult,
    InfrastructureError,
    hookimpl,
    parse_config,
)
from turnout.engine import code_hash
from turnout.flags import parse_flags
from turnout.log_output import configure, preserved
from turnout.logging import capture_logs
from turnout.registry import discover
from turnout.rollout import build_report

Behaviour = Callable[[ExecutionRequest], Awaitable[ExecutionResult]]
SCRIPT: dict[str, Behaviour] = {}


def returns(value: Any, stdout: str = "") -> Behaviour:
    async def behave(request: ExecutionRequest) -> ExecutionResult:
        outcome = {"ok": True, "channel": "return", "value": value}
        return ExecutionResult(stdout=stdout, result=json.dumps(outcome).encode())

    return behave


def raises(error: Exception) -> Behaviour:
    async def behave(request: ExecutionRequest) -> ExecutionResult:
        raise error

    return behave


def waits_for(event: asyncio.Event, then: Behaviour) -> Behaviour:
    async def behave(request: ExecutionRequest) -> ExecutionResult:
        await event.wait()
        return await then(request)

    return behave


class Scripted:
    """A backend whose behaviour per execution comes from SCRIPT[its id]."""

    id: ClassVar[str] = "scripted"
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = "test double"

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            languages=frozenset({"python", "javascript"}),
            isolation="process",
            network_access=False,
            max_timeout_ms=300_000,
            max_output_bytes=2**20,
            max_result_bytes=2**26,
            memory_limit_mb=None,
            memory_enforcement="none",
        )

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        return await SCRIPT[self.id](request)

    async def aclose(self) -> None:
        return None


class Legacy(Scripted):
    id: ClassVar[str] = "fake-legacy"


class Target(Scripted):
    id: ClassVar[str] = "fake-target"


class Plugin:
    __name__ = "scripted-backends"

    @staticmethod
    @hookimpl
    def turnout_register_backends(registry: Any) -> None:
        registry.add(Legacy)
        registry.add(Target)


def engine(stage: str, **extra: str) -> Engine:
    lines = "\n".join(f"{key} = {value}" for key, value in extra.items())
    flags = parse_flags(f"""
schema_version = 1
[environments.production]
legacy_backend = "fake-legacy"
target_backend = "fake-target"
stage = "{stage}"
{lines}
""")
    registry = discover(extra_plugins=[Plugin()], disabled=["local-subprocess", "e2b"])
    return Engine("production", flags=flags, registry=registry, shadow_budget=1)


SHIPPED_FLAGS = Path(__file__).resolve().parents[1] / "feature_flags.toml"
SAFE_NODE = parse_config({"language": "python", "code": "return 1", "sideEffectFree": True})
UNSAFE_NODE = parse_config({"language": "python", "code": "return 1"})


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


@pytest.fixture(autouse=True)
def _clean_script() -> None:
    SCRIPT.clear()


class TestShadow:
    async def test_caller_gets_legacy_and_a_match_is_published(self) -> None:
        """In shadow, legacy answers; identical candidate output is published as a match."""
        SCRIPT.update({"fake-legacy": returns(1), "fake-target": returns(1)})
        shim = engine("shadow")
        with capture_logs() as logs:
            envelope = await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        assert (envelope.output, envelope.metadata.backend) == (1, "fake-legacy")
        [comparison] = events(logs, "shadow_comparison")
        assert comparison["verdict"] == "match"

    async def test_failing_candidate_never_reaches_the_caller(self) -> None:
        """A candidate that raises (a bug) changes nothing for the caller and is logged as
        a candidate error, not as a mismatch."""
        SCRIPT.update(
            {"fake-legacy": returns(1), "fake-target": raises(RuntimeError("candidate exploded"))}
        )
        shim = engine("shadow")
        with capture_logs() as logs:
            envelope = await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        assert envelope.output == 1
        [comparison] = events(logs, "shadow_comparison")
        assert (comparison["verdict"], comparison["candidate_error_type"]) == (
            "candidate_error",
            "InternalError",
        )

    async def test_a_candidate_that_cannot_be_configured_is_a_candidate_error(self) -> None:
        """A candidate failing with a ConfigurationError (a missing key) is reported as
        `candidate_error` with its message, with no mismatched paths."""
        SCRIPT.update(
            {
                "fake-legacy": returns(1),
                "fake-target": raises(ConfigurationError("E2B_API_KEY is not set")),
            }
        )
        shim = engine("shadow")
        with capture_logs() as logs:
            await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        [comparison] = events(logs, "shadow_comparison")
        assert comparison["verdict"] == "candidate_error"
        assert (comparison["mismatch_count"], comparison["mismatches"]) == (0, [])
        assert comparison["candidate_error_type"] == "ConfigurationError"
        assert "E2B_API_KEY" in comparison["candidate_error"]

    async def test_an_authoritative_infrastructure_failure_is_an_authoritative_error(
        self,
    ) -> None:
        """In live, the target failing to run (after the code may have started, so no
        fallback) while legacy ran as the candidate is `authoritative_error`, not a mismatch."""
        SCRIPT.update(
            {
                "fake-legacy": returns(1),
                "fake-target": raises(InfrastructureError("stream dropped", started=True)),
            }
        )
        shim = engine("live")
        with capture_logs() as logs, pytest.raises(InfrastructureError):
            await shim.execute(SAFE_NODE, {})
        await shim.aclose()
        [comparison] = events(logs, "shadow_comparison")
        assert comparison["verdict"] == "authoritative_error"
        assert comparison["authoritative_error_type"] == "InfrastructureError"
        assert comparison["mismatch_count"] == 0

    async def test_garbage_from_the_candidate_is_a_mismatch_not_an_error(self) -> None:
        """A candidate returning an unreadable result is compared, not raised."""

        async def garbage(request: ExecutionRequest) -> ExecutionResult:
            return ExecutionResult(result=b"\x00not json")

        SCRIPT.update({"fake-legacy": returns({"a": 1}), "fake-target": garbage})
        shim = engine("shadow")
        with capture_logs() as logs:
            envelope = await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        assert envelope.output == {"a": 1}
        assert events(logs, "shadow_comparison")[0]["verdict"] == "mismatch"

    async def test_hanging_candidate_adds_no_latency(self) -> None:
        """The caller's result arrives while the candidate is still blocked."""
        release = asyncio.Event()
        SCRIPT.update({"fake-legacy": returns(1), "fake-target": waits_for(release, returns(1))})
        shim = engine("shadow")
        envelope = await asyncio.wait_for(shim.execute(SAFE_NODE, {}), timeout=5)
        assert envelope.output == 1
        assert shim.shadow.in_flight == 1
        release.set()
        await shim.aclose()
        assert shim.shadow.in_flight == 0

    async def test_shadows_beyond_the_budget_are_shed(self) -> None:
        """With the budget used up, a new shadow is shed and logged, and the caller is served."""
        release = asyncio.Event()
        SCRIPT.update({"fake-legacy": returns(1), "fake-target": waits_for(release, returns(1))})
        shim = engine("shadow")
        with capture_logs() as logs:
            await shim.execute(SAFE_NODE, {})
            second = await shim.execute(SAFE_NODE, {})
            release.set()
            await shim.aclose()
        assert second.output == 1
        assert len(events(logs, "shadow_shed")) == 1
        assert len(events(logs, "shadow_comparison")) == 1

    async def test_nodes_with_side_effects_are_never_shadowed(self) -> None:
        """A node not marked side-effect-free runs once: no candidate run, no comparison."""
        SCRIPT.update(
            {"fake-legacy": returns(1), "fake-target": raises(AssertionError("must not run"))}
        )
        shim = engine("shadow")
        with capture_logs() as logs:
            await shim.execute(UNSAFE_NODE, {})
            await shim.aclose()
        assert events(logs, "shadow_comparison") == []

    async def test_ignore_rules_count_apart_from_mismatches(self) -> None:
        """A difference only at an ignored path gives the verdict `ignored`."""
        SCRIPT.update(
            {"fake-legacy": returns(1, stdout="legacy banner\n"), "fake-target": returns(1)}
        )
        shim = engine("shadow", shadow_ignore='["$.stdout", "$.logs"]')
        with capture_logs() as logs:
            await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        [comparison] = events(logs, "shadow_comparison")
        assert (comparison["verdict"], comparison["ignored_count"]) == ("ignored", 2)

    async def test_a_broken_comparison_is_logged_and_swallowed(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failure inside the comparison machinery is logged and never reaches the caller."""

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise ValueError("comparison bug")

        monkeypatch.setattr("turnout.comparison.compare_outcomes", broken)
        SCRIPT.update({"fake-legacy": returns(1), "fake-target": returns(1)})
        shim = engine("shadow")
        with capture_logs() as logs:
            envelope = await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        assert envelope.output == 1
        assert "comparison bug" in events(logs, "shadow_failed")[0]["error"]

    async def test_comparison_events_carry_no_values(self) -> None:
        """A mismatch report names paths and types, never the differing values."""
        SCRIPT.update(
            {
                "fake-legacy": returns({"card": "4111-secret"}),
                "fake-target": returns({"card": "4222-secret"}),
            }
        )
        shim = engine("shadow")
        with capture_logs() as logs:
            await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        [comparison] = events(logs, "shadow_comparison")
        assert comparison["mismatches"] == [
            {
                "path": "$.output.card",
                "difference": "value",
                "authoritative": "str",
                "candidate": "str",
            }
        ]
        assert "secret" not in repr(logs)


class TestTimeMasking:
    async def test_two_clock_readings_match(self) -> None:
        """A node returning the current time (epoch ms and an ISO date-time inside a
        string) matches across backends, as in conformance, without any ignore rule."""
        now = time.time()
        stamp = datetime.datetime.fromtimestamp(now, datetime.UTC).isoformat()
        later = datetime.datetime.fromtimestamp(now + 1, datetime.UTC).isoformat()
        SCRIPT.update(
            {
                "fake-legacy": returns({"at": int(now * 1000), "id": f"saga_{stamp}"}),
                "fake-target": returns({"at": int(now * 1000) + 37, "id": f"saga_{later}"}),
            }
        )
        shim = engine("shadow")
        with capture_logs() as logs:
            await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        [comparison] = events(logs, "shadow_comparison")
        assert (comparison["verdict"], comparison["mismatch_count"]) == ("match", 0)

    async def test_a_date_far_from_now_is_still_compared(self) -> None:
        """Only readings near the clock are masked: a different date in the data is a
        mismatch."""
        SCRIPT.update(
            {
                "fake-legacy": returns({"due": "2020-01-01"}),
                "fake-target": returns({"due": "2020-01-02"}),
            }
        )
        shim = engine("shadow")
        with capture_logs() as logs:
            await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        [comparison] = events(logs, "shadow_comparison")
        assert comparison["verdict"] == "mismatch"


OTHER_NODE = parse_config({"language": "python", "code": "return 2", "sideEffectFree": True})


class TestPerNodeRules:
    def rules(self) -> dict[str, str]:
        node = code_hash(SAFE_NODE)
        return {
            "shadow_ignore_nodes": f'{{ "{node}" = ["$.output.env"], "by-id" = ["$.output.id"] }}',
            "accepted_divergences": (
                f'[{{ node = "{node}", path = "$.output.host", owner = "team-billing", '
                'reason = "reads the worker host name; e2b has its own" }]'
            ),
        }

    async def compare(self, config: Any, **labels: str) -> dict[str, Any]:
        SCRIPT.update(
            {
                "fake-legacy": returns({"env": "a", "id": 1, "host": "worker-1"}),
                "fake-target": returns({"env": "b", "id": 2, "host": "sandbox"}),
            }
        )
        shim = engine("shadow", **self.rules())
        with capture_logs() as logs:
            await shim.execute(config, {}, labels=labels or None)
            await shim.aclose()
        [comparison] = events(logs, "shadow_comparison")
        return comparison

    async def test_a_rule_for_one_node_ignores_its_difference_only(self) -> None:
        """`shadow_ignore_nodes` by code hash ignores that node's difference; the same
        difference of another node stays a mismatch."""
        mine = await self.compare(SAFE_NODE)
        other = await self.compare(OTHER_NODE)
        assert "$.output.env" not in [m["path"] for m in mine["mismatches"]]
        assert "$.output.env" in [m["path"] for m in other["mismatches"]]

    async def test_a_rule_by_node_id_applies_to_that_node_label(self) -> None:
        """A rule keyed by a node id applies to executions labelled with that `node`."""
        labelled = await self.compare(OTHER_NODE, node="by-id")
        assert "$.output.id" not in [m["path"] for m in labelled["mismatches"]]

    async def test_an_accepted_divergence_is_logged_with_its_owner_and_reason(self) -> None:
        """A ledger entry turns the node's difference into an accepted one, named in the
        event with the owner and the reason; it is not a mismatch."""
        mine = await self.compare(SAFE_NODE)
        assert mine["accepted_count"] == 1
        assert mine["accepted"] == [
            {
                "path": "$.output.host",
                "rule": "$.output.host",
                "owner": "team-billing",
                "reason": "reads the worker host name; e2b has its own",
            }
        ]
        assert "$.output.host" not in [m["path"] for m in mine["mismatches"]]


class TestWhatWasInForce:
    IN_FORCE = ("flags_hash", "stage", "stage_share", "decided_by", "legacy_killed")

    async def test_every_event_carries_the_flags_the_node_and_the_ids(self) -> None:
        """Execution, comparison and fallback events name the configuration, the share,
        what decided, the node's code hash and the rollout ids."""
        SCRIPT.update(
            {
                "fake-legacy": returns(1),
                "fake-target": raises(InfrastructureError("no sandbox", retryable=True)),
            }
        )
        shim = engine("live")
        with capture_logs() as logs:
            await shim.execute(SAFE_NODE, {}, tenant_id="t1", workflow_id="w1")
            await shim.aclose()
        names = ("code_node_executed", "shadow_comparison", "fallback_to_legacy")
        logged = [entry for entry in logs if entry["event"] in names]
        assert {entry["event"] for entry in logged} == set(names)
        flags_hash = shim.environment_flags.config_hash
        for entry in logged:
            assert {key: entry[key] for key in self.IN_FORCE} == {
                "flags_hash": flags_hash,
                "stage": "live",
                "stage_share": 100,
                "decided_by": "stage",
                "legacy_killed": False,
            }, entry["event"]
            assert entry["code_sha256"] == code_hash(SAFE_NODE)
            assert (entry["label_tenant"], entry["label_workflow"]) == ("t1", "w1")

    async def test_a_shed_shadow_names_its_node(self) -> None:
        """`shadow_shed` carries the code hash, so the report can say which node was shed."""
        release = asyncio.Event()
        SCRIPT.update({"fake-legacy": returns(1), "fake-target": waits_for(release, returns(1))})
        shim = engine("shadow")
        with capture_logs() as logs:
            await shim.execute(SAFE_NODE, {})
            await shim.execute(SAFE_NODE, {})
            release.set()
            await shim.aclose()
        [shed] = events(logs, "shadow_shed")
        assert shed["code_sha256"] == code_hash(SAFE_NODE)

    async def test_an_unmarked_execution_says_why_it_was_not_compared(self) -> None:
        """The execution event of a node not marked side-effect-free says `not_marked`."""
        SCRIPT.update({"fake-legacy": returns(1), "fake-target": returns(1)})
        shim = engine("shadow")
        with capture_logs() as logs:
            await shim.execute(UNSAFE_NODE, {})
            await shim.aclose()
        [executed] = events(logs, "code_node_executed")
        assert executed["shadow_skipped"] == "not_marked"


class TestFallback:
    async def test_live_falls_back_to_legacy_before_start(self) -> None:
        """In live, a create failure (code not started) runs the node on legacy instead."""
        SCRIPT.update(
            {
                "fake-legacy": returns("from legacy"),
                "fake-target": raises(
                    InfrastructureError("create failed", retryable=True, started=False)
                ),
            }
        )
        shim = engine("live")
        with capture_logs() as logs:
            envelope = await shim.execute(UNSAFE_NODE, {})
            await shim.aclose()
        assert (envelope.output, envelope.metadata.backend) == (
            "from legacy",
            "fake-legacy",
        )
        assert events(logs, "fallback_to_legacy")[0]["failed_backend"] == "fake-target"

    async def test_a_fault_run_served_by_fallback_is_no_mismatch(self) -> None:
        """A target failing before start on some executions, served by fallback: the
        report counts those as fallbacks and target infrastructure errors, gated by their
        own limits, and the mismatch rate stays that of the comparisons where both ran."""
        failing = iter([True, False] * 10)

        async def flaky(request: ExecutionRequest) -> ExecutionResult:
            if next(failing):
                raise InfrastructureError("create failed", retryable=True, started=False)
            return await returns(1)(request)

        SCRIPT.update({"fake-legacy": returns(1), "fake-target": flaky})
        shim = engine("live")
        stream = io.StringIO()
        with preserved():
            configure("production", json_lines=True, stream=stream)
            for _ in range(20):
                await shim.execute(SAFE_NODE, {})
            await shim.aclose()
        report = build_report(stream.getvalue().splitlines())
        [live] = report.stages("production")
        checks = {check.name: check for check in report.gate(live).checks}
        assert (live.comparisons, live.mismatches, live.authoritative_errors) == (10, 0, 10)
        assert checks["mismatch rate"].met
        assert checks["fallback rate"].value == 0.5
        assert checks["target infrastructure error rate"].value == 0.5

    async def test_no_fallback_once_the_code_started(self) -> None:
        """A failure after the code may have run is raised, never retried on legacy."""
        SCRIPT.update(
            {
                "fake-legacy": raises(AssertionError("must not run")),
                "fake-target": raises(InfrastructureError("stream dropped", started=True)),
            }
        )
        shim = engine("live")
        with pytest.raises(InfrastructureError, match="stream dropped"):
            await shim.execute(UNSAFE_NODE, {})
        await shim.aclose()

    @pytest.mark.parametrize("stage", ["rampdown", "complete"])
    async def test_no_fallback_after_live(self, stage: str) -> None:
        """In rampdown and complete the target stands alone: its failure is the caller's."""
        SCRIPT.update(
            {
                "fake-legacy": raises(AssertionError("must not run")),
                "fake-target": raises(InfrastructureError("create failed")),
            }
        )
        shim = engine(stage)
        with pytest.raises(InfrastructureError, match="create failed"):
            await shim.execute(UNSAFE_NODE, {})
        await shim.aclose()

    async def test_fallback_can_be_disabled(self) -> None:
        """With fallback_to_legacy = false, a create failure in live is raised."""
        SCRIPT.update(
            {
                "fake-legacy": raises(AssertionError("must not run")),
                "fake-target": raises(InfrastructureError("create failed")),
            }
        )
        shim = engine("live", fallback_to_legacy="false")
        with pytest.raises(InfrastructureError):
            await shim.execute(UNSAFE_NODE, {})
        await shim.aclose()


class TestDirectBackend:
    async def test_explicit_backend_bypasses_the_migration(self) -> None:
        """Naming a backend runs exactly there, with no decision, shadow or fallback."""
        SCRIPT.update(
            {
                "fake-legacy": raises(AssertionError("must not run")),
                "fake-target": returns("direct"),
            }
        )
        shim = engine("off")
        with capture_logs() as logs:
            envelope = await shim.execute(SAFE_NODE, {}, backend="fake-target")
            await shim.aclose()
        assert envelope.output == "direct"
        assert events(logs, "code_node_executed")[0]["role"] == "direct"


class TestShippedStaging:
    async def test_staging_without_a_key_reports_candidate_errors_not_mismatches(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The shipped `staging` environment with no E2B key: legacy answers, the e2b
        candidate cannot be constructed, and the comparison says `candidate_error` (it
        said `mismatch` across 7 paths)."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        monkeypatch.delenv("E2B_API_URL", raising=False)
        staging = Engine("staging", flags_path=SHIPPED_FLAGS)
        with capture_logs() as logs:
            envelope = await staging.execute(SAFE_NODE, {})
            await staging.aclose()
        assert (envelope.output, envelope.metadata.backend) == (1, "local-subprocess")
        [comparison] = events(logs, "shadow_comparison")
        assert comparison["verdict"] == "candidate_error"
        assert comparison["candidate_error_type"] == "ConfigurationError"
        assert comparison["mismatches"] == []
