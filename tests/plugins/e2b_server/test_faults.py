"""Limits and scripted faults, as the unmodified SDK experiences them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from e2b import RateLimitException, SandboxException, ServiceBusyException, TimeoutException
from e2b_code_interpreter import AsyncSandbox
from turnout_e2b_server.testing import ServerProcess


class TestConcurrencyLimit:
    async def test_create_beyond_the_limit_raises_rate_limit(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """With max_sandboxes reached, create raises RateLimitException."""
        live = e2b_server.stats()["live_sandboxes"]
        e2b_server.configure(max_sandboxes=live + 1)
        first = await AsyncSandbox.create(**sdk)
        try:
            with pytest.raises(RateLimitException):
                await AsyncSandbox.create(**sdk)
        finally:
            await first.kill()

    async def test_the_sdk_retries_a_429_three_times(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """The SDK's own retries show up as four rate-limited create requests."""
        e2b_server.configure(max_sandboxes=0)
        with pytest.raises(RateLimitException):
            await AsyncSandbox.create(**sdk)
        assert e2b_server.stats()["counters"]["creates_rate_limited"] == 4

    async def test_a_freed_slot_can_be_used_again(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """After a kill frees a slot, the next create succeeds."""
        e2b_server.configure(max_sandboxes=e2b_server.stats()["live_sandboxes"] + 1)
        await (await AsyncSandbox.create(**sdk)).kill()
        second = await AsyncSandbox.create(**sdk)
        await second.kill()


class TestCreateFaults:
    async def test_persistent_503_raises_service_busy(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A 503 on the create and on all three retries raises ServiceBusyException."""
        e2b_server.inject({"kind": "create_error", "status": 503, "count": 4, "retry_after": 0})
        with pytest.raises(ServiceBusyException):
            await AsyncSandbox.create(**sdk)
        assert e2b_server.stats()["counters"]["creates_failed_fault"] == 4

    async def test_single_503_is_absorbed_by_the_sdk_retry(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """One injected 503 is retried by the SDK and the create succeeds."""
        e2b_server.inject({"kind": "create_error", "status": 503, "retry_after": 0})
        sandbox = await AsyncSandbox.create(**sdk)
        await sandbox.kill()
        assert e2b_server.stats()["counters"]["creates_failed_fault"] == 1

    async def test_injected_429_raises_rate_limit(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """An injected 429 that the SDK may not retry raises RateLimitException."""
        e2b_server.inject({"kind": "create_error", "status": 429, "should_retry": False})
        with pytest.raises(RateLimitException):
            await AsyncSandbox.create(**sdk)

    async def test_injected_500_raises_sandbox_exception_with_the_message(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A 500 is not retried and surfaces as SandboxException carrying the message."""
        e2b_server.inject({"kind": "create_error", "status": 500, "message": "boom"})
        with pytest.raises(SandboxException, match="500: boom"):
            await AsyncSandbox.create(**sdk)


class TestExecutionFaults:
    async def test_dropped_stream_raises_the_raw_httpx_error(
        self, e2b_server: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """A stream cut mid-execution escapes the SDK as a raw httpx RemoteProtocolError."""
        e2b_server.inject(
            {"kind": "drop_stream", "after_events": 2, "sandbox_id": sandbox.sandbox_id}
        )
        with pytest.raises(httpx.RemoteProtocolError):
            await sandbox.run_code("print(1); import time; time.sleep(5); print(2)")

    async def test_dropped_stream_interrupts_the_cell(
        self, e2b_server: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """After a stream dropped by time, the kernel is free for the next cell at once."""
        e2b_server.inject({"kind": "drop_stream", "after_ms": 300})
        with pytest.raises(httpx.RemoteProtocolError):
            await sandbox.run_code("import time; time.sleep(30)")
        execution = await sandbox.run_code("'free'", timeout=5)
        assert execution.text == "free"
        assert e2b_server.stats()["counters"]["executions_interrupted"] == 1

    async def test_a_skipping_fault_lets_the_first_cells_through(
        self, e2b_server: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """With `skip: 1` the first matching cell runs untouched and the second is cut."""
        e2b_server.inject(
            {"kind": "drop_stream", "after_ms": 300, "skip": 1, "sandbox_id": sandbox.sandbox_id}
        )
        first = await sandbox.run_code("import time; time.sleep(0.5); 'whole'", timeout=10)
        with pytest.raises(httpx.RemoteProtocolError):
            await sandbox.run_code("import time; time.sleep(30)")
        assert first.text == "whole"

    async def test_sandbox_killed_mid_run_raises_timeout(
        self, e2b_server: ServerProcess, sdk: dict[str, Any]
    ) -> None:
        """A sandbox killed during run_code makes the SDK raise its "sandbox was killed"."""
        sandbox = await AsyncSandbox.create(**sdk)
        e2b_server.inject({"kind": "kill_mid_run", "after_ms": 300})
        with pytest.raises(TimeoutException, match="sandbox was killed"):
            await sandbox.run_code("import time; time.sleep(30)")
        assert not await sandbox.is_running()
        assert e2b_server.stats()["counters"]["killed_by_fault"] == 1
