"""Graceful shutdown on e2b, against the local E2B-compatible server: executions in flight
end as retryable infrastructure errors and no sandbox is left in the server's own list,
whether the shutdown finds them running code or still waiting for their sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psutil
import pytest
from turnout_e2b_server.testing import ServerProcess

from turnout import Engine, parse_config
from turnout.errors import ExecutionInterruptedError, InfrastructureError, TurnoutError
from turnout.shutdown import shutdown

HANGS = {
    "python": "import time\ntime.sleep(600)",
    "javascript": "await new Promise(() => {});",
}


async def recorded(call: Any) -> dict[str, Any] | TurnoutError:
    try:
        result: dict[str, Any] = await call
    except TurnoutError as error:
        return error
    return result


def hang(language: str) -> Any:
    return parse_config({"language": language, "code": HANGS[language], "timeout": 60_000})


async def stats(server: ServerProcess) -> dict[str, Any]:
    return await asyncio.to_thread(server.stats)


async def until_sandboxes(server: ServerProcess, count: int) -> list[dict[str, Any]]:
    """Until the server lists `count` live sandboxes whose code has been sent; them."""
    for _ in range(300):
        current = await stats(server)
        if current["live_sandboxes"] >= count and current["counters"].get("executions", 0) >= count:
            await asyncio.sleep(0.3)  # let the cells get going
            return list((await stats(server))["sandboxes"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"the sandboxes did not start: {current}")


async def until_empty(server: ServerProcess) -> list[dict[str, Any]]:
    """The server's live sandboxes once none is left, or after 10 s (what is left)."""
    for _ in range(100):
        left = list((await stats(server))["sandboxes"])
        if not left:
            return left
        await asyncio.sleep(0.1)
    return left


def running(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.fixture
async def engine(e2b_url: str) -> AsyncIterator[Engine]:
    engine = Engine("test")
    yield engine
    await engine.aclose()


class TestShutdownOnE2B:
    async def test_running_executions_end_retryably_and_their_sandboxes_are_killed(
        self, engine: Engine, e2b_server: ServerProcess
    ) -> None:
        """Three executions running code: retryable InfrastructureErrors, no sandbox left
        in the server's list, and none of their kernel processes alive."""
        calls = [
            asyncio.create_task(recorded(engine.execute(hang(language), {}, backend="e2b")))
            for language in ("python", "javascript", "python")
        ]
        sandboxes = await until_sandboxes(e2b_server, 3)
        kernels = [pid for sandbox in sandboxes for pid in sandbox["kernel_pids"]]
        assert kernels
        report = await shutdown([engine])
        outcomes = await asyncio.gather(*calls)
        assert report.interrupted == 3
        for outcome in outcomes:
            assert type(outcome) is ExecutionInterruptedError, outcome
            assert (outcome.retryable, outcome.started) == (True, True)
        assert await until_empty(e2b_server) == []
        assert running(kernels) == []

    async def test_an_execution_waiting_for_its_sandbox_leaves_none_behind(
        self, engine: Engine, e2b_server: ServerProcess
    ) -> None:
        """Shutdown during a slow create (1.5 s): a retryable error at once, and the
        sandbox the server creates after the client gave up is killed, not leaked."""
        e2b_server.configure(create_delay_ms=1500)
        call = asyncio.create_task(recorded(engine.execute(hang("python"), {}, backend="e2b")))
        for _ in range(200):
            if (await stats(e2b_server))["counters"].get("create_requests", 0) >= 1:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        await shutdown([engine])
        outcome = await call
        assert isinstance(outcome, InfrastructureError)
        assert outcome.retryable
        await asyncio.sleep(2.0)  # past the server's create delay
        assert await until_empty(e2b_server) == []

    async def test_a_cancelled_caller_ends_cancelled_and_no_sandbox_is_left(
        self, engine: Engine, e2b_server: ServerProcess
    ) -> None:
        """Cancelling the worker's task mid-run: the task ends cancelled (not a turnout
        error it would record), and the server lists no sandbox once the engine is closed."""
        call = asyncio.create_task(recorded(engine.execute(hang("javascript"), {}, backend="e2b")))
        await until_sandboxes(e2b_server, 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert call.cancelled()
        await engine.aclose()
        assert await until_empty(e2b_server) == []
