"""Tests for turnout.Client on local-subprocess: flags from code, the typed envelope, rollout
ids as parameters, the decision explained, draining on exit, and the blocking face."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import turnout
from turnout import Client, Envelope
from turnout.backend import BackendSettings
from turnout.codenode import execute_code_node, execute_code_node_sync
from turnout.errors import (
    ConfigurationError,
    ExecutionInterruptedError,
    InfrastructureError,
    ValidationError,
)
from turnout.logging import capture_logs
from turnout.models import Capabilities, ExecutionRequest, ExecutionResult
from turnout.registry import discover

from .test_shutdown import HANGS, descendants, settle_descendants

LEGACY = "local-subprocess"


def flags(**environment: Any) -> dict[str, Any]:
    """Flags as data: one environment `test` on local-subprocess -> e2b (default `off`)."""
    settings = {"legacy_backend": LEGACY, "target_backend": "e2b", "stage": "off", **environment}
    return {"schema_version": 1, "environments": {"test": settings}}


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No flag file anywhere: no TURNOUT_FLAGS_FILE, an empty current directory."""
    monkeypatch.delenv("TURNOUT_FLAGS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


NODE = {"language": "python", "code": "print('hi')\nreturn value * 2", "inputVariables": ["value"]}


class TestFlagsFromCode:
    async def test_a_mapping_needs_no_file_on_disk(self, nowhere: Path) -> None:
        """With flags given as data and no file anywhere, the client runs nodes."""
        async with Client(flags(), "test") as client:
            envelope = await client.execute(NODE, {"value": 21})
        assert envelope.output == 42
        assert await asyncio.to_thread(lambda: list(nowhere.iterdir())) == []

    def test_bad_flags_fail_when_the_client_is_made(self) -> None:
        """A mapping with a wrong stage is refused at construction, located by key path."""
        with pytest.raises(ConfigurationError) as caught:
            Client(flags(stage="shadw"), "test")
        assert caught.value.message.startswith("<flags>: environments.test.stage: 'shadw'")

    def test_a_misspelt_backend_option_fails_when_the_client_is_made(self) -> None:
        """An options table holding a typo is refused at construction by the backend's
        options model, located by key path with a suggestion."""
        with pytest.raises(ConfigurationError) as caught:
            Client(flags(backends={"e2b": {"pool_sise": 4}}), "test")
        assert caught.value.message == (
            "<flags>: environments.test.backends.e2b.pool_sise: unknown key "
            "(did you mean 'pool_size'?)"
        )

    def test_an_unknown_environment_fails_when_the_client_is_made(self) -> None:
        """An environment the flags do not define is a ConfigurationError naming those
        they do."""
        with pytest.raises(ConfigurationError, match=r"no environment 'prod'.*defined: test"):
            Client(flags(), "prod")

    def test_a_path_is_read(self, tmp_path: Path) -> None:
        """flags=PATH reads that file."""
        path = tmp_path / "mine.toml"
        path.write_text('schema_version = 1\n[environments.test]\nstage = "off"\n')
        client = Client(path, "test")
        assert client.flags.source == str(path)

    def test_no_flags_anywhere_names_the_three_ways(self, nowhere: Path) -> None:
        """flags=None with nothing to find: one error naming Client(flags=...), the
        variable and the file."""
        with pytest.raises(ConfigurationError) as caught:
            Client(None, "test")
        message = caught.value.message
        assert "Client(flags=...)" in message
        assert "TURNOUT_FLAGS_FILE" in message
        assert "feature_flags.toml" in message


class TestInputLimits:
    async def test_a_context_nested_past_the_limit_is_a_validation_error(self) -> None:
        """A context nested 100,000 deep is refused naming the 256-level limit, never a
        RecursionError."""
        context = {"value": 1, "deep": []}
        for _ in range(100_000):
            context["deep"] = [context["deep"]]
        async with Client(flags(), "test") as client:
            with pytest.raises(ValidationError) as caught:
                await client.execute(NODE, context)
        assert caught.value.field == "context.deep"
        assert "limit of 256" in caught.value.message


class TestTypedEnvelope:
    async def test_attributes_are_typed(self) -> None:
        """The envelope's output, text and metadata are attributes."""
        async with Client(flags(), "test") as client:
            envelope = await client.execute(NODE, {"value": 2})
        assert isinstance(envelope, Envelope)
        assert (envelope.output, envelope.stdout, envelope.logs) == (4, "hi\n", ("hi",))
        assert envelope.language == "python"
        assert envelope.metadata.backend == LEGACY
        assert envelope.metadata.output_channel == "return"
        assert envelope.metadata.execution_time_ms >= 0

    async def test_to_dict_is_the_function_apis_shape(self) -> None:
        """`to_dict()` has the keys, in order, of what execute_code_node returns, wrapped
        the same way for a node naming an outputVariable."""
        node = {**NODE, "outputVariable": "doubled", "memoryLimit": 64}
        async with Client(flags(), "test") as client:
            typed = (await client.execute(node, {"value": 2})).to_dict()
        legacy = await execute_code_node(node, {"value": 2})
        assert list(typed) == list(legacy) == ["doubled"]
        assert list(typed["doubled"]) == list(legacy["doubled"])
        assert list(typed["doubled"]["metadata"]) == list(legacy["doubled"]["metadata"])
        assert typed["doubled"]["metadata"]["warnings"] == legacy["doubled"]["metadata"]["warnings"]


class Recording:
    """A backend that answers 1 and records the requests it was given."""

    id: ClassVar[str] = "recording"
    requests: ClassVar[list[ExecutionRequest]] = []

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
        Recording.requests.append(request)
        return ExecutionResult(result=b'{"ok": true, "channel": "return", "value": 1}')

    async def aclose(self) -> None:
        return None


class RecordingPlugin:
    __name__ = "recording-backend"

    @staticmethod
    @turnout.hookimpl
    def turnout_register_backends(registry: Any) -> None:
        registry.add(Recording)


@pytest.fixture
def recording() -> Iterator[type[Recording]]:
    Recording.requests = []
    yield Recording
    Recording.requests = []


class TestRolloutIds:
    async def test_ids_label_the_event_and_the_sandbox(self, recording: type[Recording]) -> None:
        """tenant_id, workflow_id and execution_id reach the execution's event and the
        backend's request labels as tenant, workflow and execution."""
        registry = discover(extra_plugins=[RecordingPlugin()])
        client = Client(flags(legacy_backend="recording"), "test", registry=registry)
        with capture_logs() as logs:
            async with client:
                await client.execute(
                    {"language": "python", "code": "return 1"},
                    {},
                    tenant_id="t-1",
                    workflow_id="wf-2",
                    execution_id="run-3",
                )
        [event] = [entry for entry in logs if entry["event"] == "code_node_executed"]
        expected = {"tenant": "t-1", "workflow": "wf-2", "execution": "run-3"}
        assert {key: event[f"label_{key}"] for key in expected} == expected
        assert recording.requests[0].labels == expected

    async def test_no_id_means_the_default_stage_every_time(self) -> None:
        """With half the buckets in shadow and no ids, every execution gets the
        environment's stage, never a bucket drawn at random per execution."""
        node = {"language": "python", "code": "return 1"}
        async with Client(flags(rollout={"shadow": 50}), "test") as client:
            with capture_logs() as logs:
                for _ in range(24):
                    await client.execute(node, {})
        stages = {entry["stage"] for entry in logs if entry["event"] == "code_node_executed"}
        assert stages == {"off"}

    async def test_labels_still_carry_ids(self) -> None:
        """The function API's `labels` keep deciding the bucket (tenant, workflow)."""
        rollout = flags(rollout={"shadow": 50}, bucket_by=["tenant"])
        client = Client(rollout, "test")
        tenants = [f"tenant-{index}" for index in range(40)]
        expected = {tenant: client.explain(tenant_id=tenant).stage for tenant in tenants}
        assert set(expected.values()) == {"off", "shadow"}
        with capture_logs() as logs:
            async with client:
                for tenant in tenants[:8]:
                    await client.execute(
                        {"language": "python", "code": "return 1"}, {}, labels={"tenant": tenant}
                    )
        seen = {e["label_tenant"]: e["stage"] for e in logs if e["event"] == "code_node_executed"}
        assert seen == {tenant: expected[tenant] for tenant in tenants[:8]}

    @pytest.mark.parametrize("value", [7, "", b"t"])
    async def test_an_id_must_be_a_non_empty_string(self, value: Any) -> None:
        """A rollout id that is not a non-empty string is a ValidationError naming it."""
        async with Client(flags(), "test") as client:
            with pytest.raises(ValidationError) as caught:
                await client.execute(NODE, {"value": 1}, tenant_id=value)
        assert caught.value.field == "tenant_id"


class TestExplain:
    def test_explain_is_what_flags_explain_prints(self, tmp_path: Path) -> None:
        """client.explain gives the decision `turnout flags explain --json` prints."""
        path = tmp_path / "flags.toml"
        path.write_text(
            'schema_version = 1\n[environments.test]\nstage = "off"\n'
            "[environments.test.rollout]\nshadow = 30\nlive = 20\n"
        )
        decision = Client(path, "test").explain(
            tenant_id="acme", workflow_id="wf-1", execution_id="run-1"
        )
        printed = subprocess.run(
            [
                *(sys.executable, "-m", "turnout.cli", "flags", "explain", "--file", str(path)),
                *("--env", "test", "--tenant", "acme", "--workflow", "wf-1", "--key", "run-1"),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(printed.stdout) == {"environment": "test", **decision.to_log()}

    def test_no_id_gives_the_default_stage(self) -> None:
        """Without ids, the decision is the environment's stage, and says why."""
        decision = Client(flags(rollout={"live": 60}), "test").explain()
        assert decision.stage == "off"
        assert "no bucketing key" in decision.reason


class TestClosing:
    async def test_exit_interrupts_what_is_still_running_and_kills_it(self) -> None:
        """Leaving `async with` with executions in flight (grace 0) answers them with a
        retryable ExecutionInterruptedError, and no process they started is left."""
        before = descendants()
        node = {"language": "python", "code": HANGS["python"], "timeout": 60_000}
        client = Client(flags(), "test", grace_s=0.0)
        async with client:
            calls = [asyncio.create_task(client.execute(node, {})) for _ in range(2)]
            for _ in range(200):
                if client.engine.in_flight.count == 2 and len(descendants() - before) >= 2:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(outcome, ExecutionInterruptedError) for outcome in outcomes)
        assert await settle_descendants(before) == set()

    async def test_exit_lets_executions_in_flight_finish_within_the_grace(self) -> None:
        """With a grace period, an execution that finishes in time gets its envelope."""
        node = {"language": "python", "code": "import time\ntime.sleep(0.5)\nreturn 'done'"}
        client = Client(flags(), "test", grace_s=30.0)
        async with client:
            call = asyncio.create_task(client.execute(node, {}))
            for _ in range(1000):
                if client.engine.in_flight.count:
                    break
                await asyncio.sleep(0.01)
        assert (await call).output == "done"

    async def test_a_closed_client_refuses_new_executions(self) -> None:
        """After close, execute raises a retryable error that says nothing started."""
        client = Client(flags(), "test")
        await client.aclose()
        with pytest.raises(InfrastructureError) as caught:
            await client.execute(NODE, {"value": 1})
        assert (caught.value.retryable, caught.value.started) == (True, False)
        assert client.closed

    def test_a_client_belongs_to_one_event_loop(self) -> None:
        """Using a client from a second event loop is refused with a clear message."""
        client = Client(flags(), "test")
        first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
        try:
            first.run_until_complete(client.execute(NODE, {"value": 1}))
            with pytest.raises(RuntimeError, match="another event loop"):
                second.run_until_complete(client.execute(NODE, {"value": 1}))
            first.run_until_complete(client.aclose())
        finally:
            first.close()
            second.close()


class TestSync:
    def test_the_blocking_client_runs_and_closes(self) -> None:
        """Client.sync gives envelopes to plain threads, and closes."""
        with Client.sync(flags(), "test") as client:
            results: list[Any] = []
            threads = [
                threading.Thread(
                    target=lambda: results.append(client.execute(NODE, {"value": 3}).output)
                )
                for _ in range(3)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert results == [6, 6, 6]
            assert client.explain().stage == "off"
        assert client.client.closed

    def test_it_shares_the_loop_thread_of_the_function_api(self) -> None:
        """Client.sync and execute_code_node_sync run on one loop thread, not two."""
        seen: set[str] = set()
        node = {"language": "python", "code": "return 1"}
        original = Client.execute

        async def spy(self: Client, *args: Any, **kwargs: Any) -> Envelope:
            seen.add(threading.current_thread().name)
            return await original(self, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Client, "execute", spy)
            execute_code_node_sync(node, {})
            with Client.sync(flags(), "test") as client:
                client.execute(node, {})
        assert seen == {"turnout-sync"}
