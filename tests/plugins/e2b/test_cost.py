"""Cost accounting: sandbox-seconds and dollars in the envelope, the log and the report."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from turnout_e2b import E2BBackend
from turnout_e2b.cost import Pricing, usage
from turnout_e2b.events import EVENT_TYPES, SandboxReleased, parse_e2b_event
from turnout_e2b.options import parse_options

from turnout import BackendSettings, CodeExecutionError, execute_code_node
from turnout.contract import prepare_request
from turnout.logging import capture_logs
from turnout.models import ExecutionRequest, parse_config
from turnout.rollout import build_report, render_text


def backend(**options: Any) -> E2BBackend:
    return E2BBackend(BackendSettings(environment="test", options=options))


def request(code: str = "return 1", labels: dict[str, str] | None = None) -> ExecutionRequest:
    config = parse_config({"language": "python", "code": code, "timeout": 10_000})
    return prepare_request(
        config,
        {},
        execution_id="c" + str(time.time_ns()),
        max_result_bytes=1 << 20,
        labels=labels or {},
    )


class TestPricing:
    def test_defaults_are_e2bs_default_sandbox_at_its_published_rates(self) -> None:
        """2 vCPU at $0.0504 plus 0.5 GiB at $0.0162 per hour: $0.1089 per sandbox-hour."""
        pricing = Pricing.from_options(parse_options({}))
        assert pricing.per_hour == pytest.approx(0.1089)

    def test_an_hour_costs_the_hourly_price(self) -> None:
        """Cost is linear in seconds, unrounded."""
        pricing = Pricing(price_per_vcpu_hour=0.05, price_per_gib_hour=0, vcpus=4, memory_gib=1)
        assert pricing.cost(3600) == pytest.approx(0.2)
        assert pricing.cost(1.5) == pytest.approx(0.2 * 1.5 / 3600)

    def test_usage_prices_held_and_idle_seconds_together(self) -> None:
        """costUsd covers the execution's seconds and the pool idle seconds charged to it."""
        pricing = Pricing(price_per_vcpu_hour=3.6, price_per_gib_hour=0, vcpus=1, memory_gib=0)
        assert usage(pricing, 2.0, 1.0) == {
            "sandboxSeconds": 2.0,
            "poolIdleSeconds": 1.0,
            "costUsd": pytest.approx(0.003),
        }


@pytest.mark.usefixtures("e2b_url")
class TestExecutionUsage:
    async def test_sandbox_seconds_cover_the_run(self) -> None:
        """sandboxSeconds spans create to result, so it is at least the code's run time."""
        instance = backend()
        try:
            result = await instance.execute(request("import time\ntime.sleep(0.2)\nreturn 1"))
        finally:
            await instance.aclose()
        spent = result.usage["sandboxSeconds"] * 1000
        assert spent >= result.timings_ms["run"]
        assert spent >= result.timings_ms["create"]
        assert result.usage["poolIdleSeconds"] == 0.0

    async def test_cost_is_the_priced_seconds(self) -> None:
        """costUsd is sandboxSeconds plus poolIdleSeconds at the configured price."""
        instance = backend(price_per_vcpu_hour=36.0, price_per_gib_hour=0.0, vcpus=1)
        try:
            result = await instance.execute(request())
        finally:
            await instance.aclose()
        seconds = result.usage["sandboxSeconds"] + result.usage["poolIdleSeconds"]
        # The seconds are rounded to the millisecond, the cost is computed before rounding.
        assert result.usage["costUsd"] == pytest.approx(seconds * 0.01, abs=1e-5)

    async def test_a_pooled_execution_is_charged_its_idle_time(self) -> None:
        """A sandbox taken from the pool reports the time it waited there, apart."""
        instance = backend(pool_size=1)
        try:
            await instance.execute(request())
            pool = instance.pool
            assert pool is not None
            for _ in range(400):  # poll for the refill (at most 20 s)
                if pool.idle:
                    break
                await asyncio.sleep(0.05)
            result = await instance.execute(request())
        finally:
            await instance.aclose()
        assert result.timings_ms["pool_hit"] == 1.0
        assert result.usage["poolIdleSeconds"] > 0

    async def test_release_event_has_the_exact_create_to_kill_figure(self) -> None:
        """`sandbox_released` logs seconds to the completed kill: at least the envelope's."""
        instance = backend()
        with capture_logs() as logs:
            result = await instance.execute(request(labels={"tenant": "t1"}))
            await instance.aclose()
        events = [parse_e2b_event(e) for e in logs if e["event"] in EVENT_TYPES]
        (released,) = [e for e in events if isinstance(e, SandboxReleased)]
        assert released.sandbox_id == result.sandbox_id
        assert released.sandbox_seconds >= result.usage["sandboxSeconds"]
        assert released.reason == "executed"
        assert released.labels == {"tenant": "t1"}
        assert released.cost_usd >= result.usage["costUsd"]


@pytest.mark.usefixtures("e2b_url")
class TestEnvelopeAndEvent:
    async def test_envelope_metadata_carries_the_cost_fields(self) -> None:
        """execute_code_node on e2b puts sandboxSeconds, poolIdleSeconds and costUsd in metadata."""
        with capture_logs() as logs:
            envelope = await execute_code_node(
                {"language": "python", "code": "return 2"}, {}, backend="e2b", env="test"
            )
        metadata = envelope["metadata"]
        assert metadata["sandboxSeconds"] > 0
        assert metadata["costUsd"] > 0
        assert metadata["poolIdleSeconds"] == 0.0
        (event,) = [e for e in logs if e["event"] == "code_node_executed"]
        assert event["usage"] == {
            key: metadata[key] for key in ("sandboxSeconds", "poolIdleSeconds", "costUsd")
        }

    async def test_a_failed_run_still_logs_what_it_cost(self) -> None:
        """A user error on e2b has no envelope, but its event carries the usage."""
        with capture_logs() as logs, pytest.raises(CodeExecutionError):
            await execute_code_node(
                {"language": "python", "code": "1/0"}, {}, backend="e2b", env="test"
            )
        (event,) = [e for e in logs if e["event"] == "code_node_executed"]
        assert event["outcome"] == "error"
        assert event["usage"]["sandboxSeconds"] > 0

    async def test_local_subprocess_reports_no_cost(self) -> None:
        """A backend that bills nothing adds no cost fields."""
        envelope = await execute_code_node(
            {"language": "python", "code": "return 2"}, {}, backend="local-subprocess", env="test"
        )
        assert "costUsd" not in envelope["metadata"]


def executed(
    environment: str, tenant: str | None, workflow: str | None, cost: float, **extra: Any
) -> str:
    event: dict[str, Any] = {
        "event": "code_node_executed",
        "environment": environment,
        "backend": "e2b",
        "role": extra.pop("role", "direct"),
        "outcome": "ok",
        "usage": {"sandboxSeconds": cost * 10, "poolIdleSeconds": cost, "costUsd": cost},
        **extra,
    }
    if tenant is not None:
        event["label_tenant"] = tenant
    if workflow is not None:
        event["label_workflow"] = workflow
    return json.dumps(event)


class TestRolloutCostSums:
    def lines(self) -> list[str]:
        return [
            executed("prod", "t1", "w1", 0.5),
            executed("prod", "t1", "w2", 0.25),
            executed("prod", "t2", "w2", 1.0, role="shadow"),
            executed("prod", None, None, 0.125),
            executed("staging", "t1", "w1", 2.0),
            json.dumps(
                {
                    "event": "code_node_executed",
                    "environment": "prod",
                    "backend": "local-subprocess",
                    "role": "direct",
                    "outcome": "ok",
                }
            ),
        ]

    def test_costs_are_summed_per_environment_tenant_and_workflow(self) -> None:
        """Each environment sums its runs' usage, split by tenant and by workflow."""
        costs = build_report(self.lines()).to_dict()["costs"]
        assert set(costs) == {"prod", "staging"}
        prod = costs["prod"]
        assert (prod["runs"], prod["cost_usd"]) == (4, 1.875)
        assert prod["sandbox_seconds"] == pytest.approx(18.75)
        assert prod["tenants"]["t1"]["cost_usd"] == 0.75
        assert prod["tenants"]["-"]["runs"] == 1
        assert prod["workflows"]["w2"]["cost_usd"] == 1.25
        assert prod["shadow"]["cost_usd"] == 1.0
        assert costs["staging"]["cost_usd"] == 2.0

    def test_most_expensive_tenants_come_first(self) -> None:
        """The JSON lists tenants and workflows by cost, highest first."""
        prod = build_report(self.lines()).to_dict()["costs"]["prod"]
        assert list(prod["tenants"]) == ["t2", "t1", "-"]

    def test_runs_without_usage_add_nothing(self) -> None:
        """A log of local-subprocess runs only has no cost section."""
        report = build_report(self.lines()[-1:])
        assert report.to_dict()["costs"] == {}
        assert "cost" not in render_text(report)

    def test_text_report_shows_the_sums(self) -> None:
        """The human report prints each environment's cost and its top tenants."""
        text = render_text(build_report(self.lines()))
        assert "cost  $1.8750 for 4 runs" in text
        assert "tenant t2: $1.0000" in text
        assert "of which shadow runs: $1.0000" in text
