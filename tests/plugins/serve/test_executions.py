"""`POST /v1/executions` on a live `turnout serve`, called with the Python `ServiceClient`:
the same envelopes and errors as `turnout.Client` on both backends, two executions at
once, a third refused, and the read-only routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from turnout_e2b_server.testing import ServerProcess
from turnout_serve.client import ServiceClient
from turnout_serve.errors import OverloadedError

import turnout
from turnout.errors import InfrastructureError

from .support import CASES, ENVIRONMENT, ON_E2B, ServeProcess, node, outcome_of


@pytest.fixture
async def library(flags_file: Path) -> AsyncIterator[turnout.Client]:
    """The library, with the service's flags, in this test's event loop."""
    async with turnout.Client(flags=flags_file, environment=ENVIRONMENT, keep_warm=False) as client:
        yield client


class TestSameAsTheLibrary:
    @pytest.mark.parametrize(
        ("name", "config", "context", "tenant"), CASES, ids=[c[0] for c in CASES]
    )
    async def test_the_service_answers_what_the_library_returns(
        self,
        name: str,
        config: dict[str, Any],
        context: dict[str, Any],
        tenant: str | None,
        client: ServiceClient,
        library: turnout.Client,
        e2b: ServerProcess,
    ) -> None:
        """A node through HTTP gets the envelope (or the error) `turnout.Client` gives for the
        same node, context and tenant, on the backend the flags choose, but for timings and ids."""
        served = await outcome_of(client.execute(config, context, tenant_id=tenant))
        direct = await outcome_of(library.execute(config, context, tenant_id=tenant))
        assert served == direct
        if "error" not in served:
            assert served["backend"] == ("e2b" if tenant else "local-subprocess")

    async def test_a_user_error_is_a_completed_execution(self, service: ServeProcess) -> None:
        """The user's code failing is HTTP 200 with the error object, so the caller routes on
        `kind`; it is not an HTTP failure."""
        async with httpx.AsyncClient(base_url=service.url, headers=service.headers) as http:
            response = await http.post(
                "/v1/executions", json={"node": node("python", "1/0"), "context": {}}
            )
        assert response.status_code == 200
        error = response.json()["error"]
        assert (error["type"], error["kind"], error["retryable"]) == (
            "CodeExecutionError",
            "runtime",
            False,
        )

    async def test_a_retryable_backend_failure_is_503_with_retry_after(
        self, client: ServiceClient, e2b: ServerProcess, service: ServeProcess
    ) -> None:
        """E2B refusing to create a sandbox is a 503 with Retry-After and a retryable
        InfrastructureError in the body."""
        e2b.inject({"kind": "create_error", "status": 503, "retry_after": 3})
        async with httpx.AsyncClient(base_url=service.url, headers=service.headers) as http:
            response = await http.post(
                "/v1/executions",
                json={"node": node("python", "return 1"), "context": {}, "tenantId": ON_E2B},
            )
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        body = response.json()["error"]
        assert (body["kind"], body["retryable"]) == ("infrastructure", True)
        assert e2b.stats()["sandboxes"] == []

    @pytest.mark.parametrize("language", ["python", "javascript"])
    async def test_a_lone_surrogate_in_the_output_is_escaped_not_a_500(
        self, client: ServiceClient, library: turnout.Client, language: str
    ) -> None:
        """A node returning a string UTF-8 cannot encode is answered 200 with the JSON
        escape, which reads back as the library's output."""
        lone = node(language, 'return "\\ud800"')
        served = await client.execute(lone, {})
        assert served.output == (await library.execute(lone, {})).output == "\ud800"


class TestConcurrency:
    async def test_two_executions_run_at_once(self, client: ServiceClient) -> None:
        """Two executions sent together both complete, and their runs overlapped in time."""
        code = "import time\nstart = time.time()\ntime.sleep(1.5)\nreturn [start, time.time()]"
        first, second = await asyncio.gather(
            client.execute(node("python", code), {}), client.execute(node("python", code), {})
        )
        (start_1, end_1), (start_2, end_2) = first.output, second.output
        assert start_1 < end_2
        assert start_2 < end_1

    async def test_a_request_beyond_the_slots_gets_429_and_the_others_finish(
        self, client: ServiceClient
    ) -> None:
        """With both slots busy, a third execution is refused at once with a retryable
        OverloadedError carrying retry_after; the two running ones complete."""
        slow = node("python", "import time\ntime.sleep(2)\nreturn 'done'")
        running = [asyncio.create_task(client.execute(slow, {})) for _ in range(2)]
        await asyncio.sleep(0.5)
        with pytest.raises(OverloadedError) as refused:
            await client.execute(node("python", "return 1"), {})
        assert refused.value.retryable
        assert refused.value.retry_after is not None
        assert [envelope.output for envelope in await asyncio.gather(*running)] == ["done", "done"]


class TestReadOnlyRoutes:
    async def test_explain_is_the_library_s_decision(
        self, client: ServiceClient, library: turnout.Client
    ) -> None:
        """`GET /v1/flags/explain` answers the decision `Client.explain` makes for the ids."""
        served = await client.explain(tenant_id=ON_E2B)
        assert served == {"environment": ENVIRONMENT, **library.explain(tenant_id=ON_E2B).to_log()}
        assert served["authoritative_backend"] == "e2b"

    async def test_backends_lists_both(self, client: ServiceClient) -> None:
        """`GET /v1/backends` lists the registered backends and the environment's default."""
        listed = await client.backends()
        assert listed["default"] == "local-subprocess"
        assert {backend["id"] for backend in listed["backends"]} >= {"e2b", "local-subprocess"}

    async def test_probes_answer_without_a_token(self, service: ServeProcess) -> None:
        """`/healthz` and `/readyz` need no token and say the service is alive and ready."""
        async with httpx.AsyncClient(base_url=service.url) as http:
            assert (await http.get("/healthz")).json() == {"status": "ok"}
            ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"ready": True, "reasons": []})

    async def test_metrics_count_executions_by_backend_and_outcome(
        self, client: ServiceClient, service: ServeProcess
    ) -> None:
        """`/metrics` is Prometheus text counting executions by backend and outcome."""
        await client.execute(node("python", "return 1"), {})
        async with httpx.AsyncClient(base_url=service.url) as http:
            text = (await http.get("/metrics")).text
        assert (
            'turnout_executions_total{backend="local-subprocess",kind="",outcome="success"}' in text
        )
        assert "turnout_execution_seconds_bucket" in text

    async def test_metrics_count_the_engine_s_runs_by_stage_and_role_and_the_cost(
        self, client: ServiceClient, service: ServeProcess, e2b: ServerProcess
    ) -> None:
        """`/metrics` also counts what the engine's events report: each backend run with its
        stage and role, fallbacks and shadow verdicts, and the e2b run's sandbox cost."""
        await client.execute(node("python", "return 1"), {})
        await client.execute(node("python", "return 1"), {}, tenant_id=ON_E2B)
        async with httpx.AsyncClient(base_url=service.url) as http:
            text = (await http.get("/metrics")).text
        run = (
            'turnout_engine_runs_total{backend="%s",kind="",outcome="ok",'
            'role="authoritative",stage="%s"}'
        )
        assert run % ("local-subprocess", "off") in text
        assert run % ("e2b", "rampdown") in text
        assert "turnout_fallbacks_total 0.0" in text
        assert 'turnout_cost_usd_total{backend="e2b"}' in text

    async def test_an_unreachable_service_is_a_retryable_infrastructure_error(self) -> None:
        """The client names the service it could not reach, as a retryable error."""
        async with ServiceClient("http://127.0.0.1:9") as unreachable:
            with pytest.raises(InfrastructureError, match="could not be reached") as failed:
                await unreachable.execute(node("python", "return 1"), {})
        assert failed.value.retryable
