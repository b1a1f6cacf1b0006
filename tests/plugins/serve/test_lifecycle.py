"""A service's life around its executions: a flag change while one runs, and the drain on
SIGTERM, where every execution ends in a result or a classified error and nothing
survives the process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from turnout_e2b_server.testing import ServerProcess
from turnout_serve.client import ServiceClient
from turnout_serve.errors import ServiceDrainingError

from turnout.errors import ExecutionInterruptedError

from .support import TOKEN, ServeProcess, node, wait_until, write_flags

GRACE_S = 8.0


@pytest.fixture
def own_flags(tmp_path: Path, e2b_server: ServerProcess) -> Path:
    return write_flags(tmp_path / "feature_flags.toml", e2b_server.url)


@pytest.fixture
def own_service(own_flags: Path, e2b_server: ServerProcess) -> Iterator[ServeProcess]:
    """A service of this test alone: flags checked every 0.2 s, a grace of GRACE_S."""
    process = ServeProcess(
        own_flags,
        *("--flag-check-interval", "0.2", "--grace", str(GRACE_S)),
        e2b_key=e2b_server.api_key,
    ).start()
    try:
        yield process
    finally:
        process.stop()


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def new_children(service: ServeProcess, before: set[int]) -> set[int]:
    return {child.pid for child in service.children()} - before


class TestFlagReload:
    async def test_a_flag_change_applies_to_the_next_execution_not_the_running_one(
        self, own_service: ServeProcess, own_flags: Path, e2b_server: ServerProcess
    ) -> None:
        """The flag file moves the environment to e2b while an execution runs on
        local-subprocess: that one completes where it started, the next runs on e2b."""
        e2b_server.reset(kill_sandboxes=True)
        async with ServiceClient(own_service.url, token=TOKEN) as client:
            running = asyncio.create_task(
                client.execute(node("python", "import time\ntime.sleep(2)\nreturn 'old'"), {})
            )
            await asyncio.sleep(0.5)
            write_flags(own_flags, e2b_server.url, stage="rampdown")
            deadline = time.monotonic() + 30
            while (await client.explain())["authoritative_backend"] != "e2b":
                assert time.monotonic() < deadline, "the service never read the new flags"
                await asyncio.sleep(0.1)
            after = await client.execute(node("python", "return 'new'"), {})
            before = await running
        assert (before.output, before.metadata.backend) == ("old", "local-subprocess")
        assert (after.output, after.metadata.backend) == ("new", "e2b")


class TestDrain:
    async def test_sigterm_drains_every_execution_to_a_result_or_a_classified_error(
        self, own_service: ServeProcess
    ) -> None:
        """On SIGTERM: readiness turns false, a new execution gets a retryable 503, the
        short execution in flight completes, the long one is interrupted with a retryable
        ExecutionInterruptedError after the grace period, its process is killed, and the
        service exits 0."""
        before = {child.pid for child in own_service.children()}
        short = node("python", "import time\ntime.sleep(1)\nreturn 'finished'")
        long = node("python", "import time\ntime.sleep(120)\nreturn 'never'", timeout=200_000)
        async with ServiceClient(own_service.url, token=TOKEN) as client:
            tasks = [asyncio.create_task(client.execute(n, {})) for n in (short, long)]
            await asyncio.to_thread(
                wait_until, lambda: len(new_children(own_service, before)) >= 2, 60, "both runs"
            )
            runs = new_children(own_service, before)
            own_service.terminate()
            async with httpx.AsyncClient(base_url=own_service.url) as http:
                deadline = time.monotonic() + 10
                while (await http.get("/readyz")).status_code == 200:
                    assert time.monotonic() < deadline, "readiness never turned false"
                    await asyncio.sleep(0.05)
            with pytest.raises(ServiceDrainingError) as refused:
                await client.execute(node("python", "return 1"), {})
            finished, interrupted = await asyncio.gather(*tasks, return_exceptions=True)
        assert refused.value.retryable
        assert refused.value.retry_after is not None
        assert not isinstance(finished, BaseException), finished
        assert finished.output == "finished"
        assert isinstance(interrupted, ExecutionInterruptedError), interrupted
        assert interrupted.retryable
        assert await asyncio.to_thread(own_service.wait, 60) == 0
        assert not [pid for pid in runs if running(pid)]


class TestDeadline:
    async def test_past_the_deadline_the_execution_is_cancelled_and_answered_504(
        self, own_flags: Path, e2b_server: ServerProcess
    ) -> None:
        """With a provisioning budget of 10 ms, a node busy past its 1 s timeout reaches the
        request's deadline first: 504 with a retryable DeadlineExceededError, and its
        process is killed."""
        service = ServeProcess(
            own_flags, "--provisioning-budget", "0.01", e2b_key=e2b_server.api_key
        ).start()
        try:
            before = {child.pid for child in service.children()}
            busy = node("python", "while True:\n    pass", timeout=1000)
            async with httpx.AsyncClient(base_url=service.url, headers=service.headers) as http:
                response = await http.post("/v1/executions", json={"node": busy, "context": {}})
            assert response.status_code == 504
            assert response.headers["retry-after"] == "1"
            error = response.json()["error"]
            assert (error["type"], error["kind"], error["retryable"]) == (
                "DeadlineExceededError",
                "deadline",
                True,
            )
            await asyncio.to_thread(
                wait_until, lambda: not new_children(service, before), 30, "the kill"
            )
        finally:
            service.stop()
