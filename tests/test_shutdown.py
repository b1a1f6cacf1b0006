"""Graceful shutdown on local-subprocess: executions in flight end as retryable
infrastructure errors (on `shutdown`, on SIGTERM), a caller's own cancellation stays a
cancellation, and no process they started is left (checked with psutil against this
process's descendants)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psutil
import pytest

from turnout import Engine, parse_config
from turnout.codenode import execute_code_node, loop_engines
from turnout.errors import ExecutionInterruptedError, InfrastructureError, TurnoutError
from turnout.shutdown import install_signal_handlers, shutdown

#: Runs until killed, with a grandchild in its own session that ignores SIGTERM.
HANGS = {
    "python": (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'], "
        "start_new_session=True)\n"
        "time.sleep(600)"
    ),
    "javascript": "await new Promise(() => {});",
}
IN_FLIGHT = 3


def descendants(ignore: Sequence[str] = ()) -> set[tuple[int, float]]:
    """Live (not zombie) descendants of this process, each as (pid, start time), except
    those whose command line mentions one of `ignore`."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if any(text in part for text in ignore for part in child.cmdline()):
                continue
            if child.status() != psutil.STATUS_ZOMBIE:
                found.add((child.pid, child.create_time()))
        except psutil.NoSuchProcess:
            continue
    return found


def waiting_spares(engine: Engine | None) -> list[str]:
    """The directories of the Python interpreters local-subprocess keeps pre-started for
    the next executions (docs/backends/local-subprocess.md): they belong to no execution,
    so they are not leftovers; they end with the backend's aclose()."""
    if engine is None:
        return []
    spares = getattr(engine.backend("local-subprocess"), "_spares", [])
    return [str(spare.workspace.root) for spare in spares]


async def settle_descendants(
    before: set[tuple[int, float]], engine: Engine | None = None
) -> set[tuple[int, float]]:
    """Descendants started since `before` (other than `engine`'s waiting spare) that are
    still alive after at most 5 s."""
    for _ in range(50):
        left = descendants(waiting_spares(engine)) - before
        if not left:
            return left
        await asyncio.sleep(0.1)
    return descendants(waiting_spares(engine)) - before


async def recorded(call: Any) -> dict[str, Any] | TurnoutError:
    """What a worker records: the envelope, or the turnout error raised."""
    try:
        result: dict[str, Any] = await call
    except TurnoutError as error:
        return error
    return result


def config(language: str = "python", timeout: int = 60_000) -> Any:
    return parse_config({"language": language, "code": HANGS[language], "timeout": timeout})


async def until_running(engine: Engine, count: int, before: set[tuple[int, float]]) -> None:
    """Until `count` executions are in flight and their programs have been started."""
    for _ in range(200):
        if engine.in_flight.count >= count and len(descendants() - before) >= count:
            await asyncio.sleep(0.3)  # let the programs get past start-up
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the executions did not start")


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = Engine("test")
    yield engine
    await engine.aclose()


class TestShutdown:
    async def test_in_flight_executions_end_as_retryable_errors(self, engine: Engine) -> None:
        """Three hanging executions (both languages) get a retryable InfrastructureError
        marked started, and no process they started survives, grandchildren included."""
        before = descendants()
        calls = [
            asyncio.create_task(
                recorded(engine.execute(config(language), {}, backend="local-subprocess"))
            )
            for language in ("python", "javascript", "python")
        ]
        await until_running(engine, IN_FLIGHT, before)
        report = await shutdown([engine])
        outcomes = await asyncio.gather(*calls)
        assert report.interrupted == IN_FLIGHT
        for outcome in outcomes:
            assert type(outcome) is ExecutionInterruptedError, outcome
            assert isinstance(outcome, InfrastructureError)
            assert not isinstance(outcome, asyncio.CancelledError)
            assert (outcome.retryable, outcome.started) == (True, True)
            assert "shutting down" in outcome.message
        assert await settle_descendants(before) == set()

    async def test_executions_asked_for_after_shutdown_are_refused_retryably(
        self, engine: Engine
    ) -> None:
        """After shutdown, a new execution fails at once, retryable and not started."""
        await shutdown([engine])
        outcome = await recorded(
            engine.execute(
                parse_config({"language": "python", "code": "return 1"}),
                {},
                backend="local-subprocess",
            )
        )
        assert isinstance(outcome, InfrastructureError)
        assert (outcome.retryable, outcome.started) == (True, False)

    async def test_executions_that_finish_within_the_grace_keep_their_result(
        self, engine: Engine
    ) -> None:
        """With a grace period, an execution that ends in time returns its envelope."""
        quick = parse_config(
            {"language": "python", "code": "import time\ntime.sleep(0.5)\nreturn 7"}
        )
        call = asyncio.create_task(recorded(engine.execute(quick, {}, backend="local-subprocess")))
        await until_running(engine, 1, descendants())
        report = await shutdown([engine], grace_s=30.0)
        outcome = await call
        assert not isinstance(outcome, TurnoutError), outcome
        assert outcome.output == 7
        assert report.interrupted == 0


class TestCallerCancellation:
    async def test_a_cancelled_caller_gets_cancellation(self, engine: Engine) -> None:
        """A worker task cancelled mid-execution sees CancelledError, not a turnout error it
        would record as retryable; the processes are gone."""
        before = descendants()
        call = asyncio.create_task(
            recorded(engine.execute(config(), {}, backend="local-subprocess"))
        )
        await until_running(engine, 1, before)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert call.cancelled()
        assert await settle_descendants(before, engine) == set()

    async def test_except_exception_does_not_swallow_cancellation(self, engine: Engine) -> None:
        """A worker that catches `Exception` around an execution still ends cancelled when
        its task is cancelled: cancellation is not an Exception."""
        before = descendants()

        async def worker() -> str:
            try:
                await engine.execute(config(), {}, backend="local-subprocess")
            except Exception:
                return "swallowed"
            return "finished"

        call = asyncio.create_task(worker())
        await until_running(engine, 1, before)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert call.cancelled()
        assert await settle_descendants(before, engine) == set()

    async def test_a_caller_that_does_not_catch_ends_cancelled(self, engine: Engine) -> None:
        """Uncaught, the interruption is a cancellation: the task ends cancelled."""
        before = descendants()
        call = asyncio.create_task(engine.execute(config(), {}, backend="local-subprocess"))
        await until_running(engine, 1, before)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert call.cancelled()
        assert await settle_descendants(before, engine) == set()

    async def test_wait_for_still_raises_timeout_error(self, engine: Engine) -> None:
        """`asyncio.wait_for` around an execution keeps its meaning on Python 3.11
        (TimeoutError), and the processes are gone when it is raised."""
        before = descendants()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(engine.execute(config(), {}, backend="local-subprocess"), 1.0)
        assert await settle_descendants(before, engine) == set()

    async def test_asyncio_timeout_raises_timeout_error(self, engine: Engine) -> None:
        """`asyncio.timeout` around an execution raises TimeoutError on every supported
        Python, and the processes are gone when it is raised."""
        before = descendants()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await engine.execute(config(), {}, backend="local-subprocess")
        assert await settle_descendants(before, engine) == set()


class TestSigterm:
    async def test_sigterm_shuts_the_loops_engines_down(self) -> None:
        """SIGTERM with the handlers installed: every execution in flight through
        `execute_code_node` ends as a retryable error; nothing is left running."""
        before = descendants()
        node = {"language": "python", "code": HANGS["python"], "timeout": 60_000}
        calls = [
            asyncio.create_task(recorded(execute_code_node(node, {}, backend="local-subprocess")))
            for _ in range(2)
        ]
        loop = asyncio.get_running_loop()
        for _ in range(200):
            if loop_engines(loop):
                break
            await asyncio.sleep(0.01)
        [engine] = loop_engines(loop)
        await until_running(engine, 2, before)
        signals = install_signal_handlers()
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(signals.finished.wait(), timeout=60)
        finally:
            signals.remove()
        outcomes = await asyncio.gather(*calls)
        assert signals.report is not None
        assert signals.report.interrupted == 2
        for outcome in outcomes:
            assert isinstance(outcome, InfrastructureError)
            assert outcome.retryable
        assert await settle_descendants(before) == set()


class TestSyncCallers:
    def test_shutdown_sync_answers_blocked_sync_callers(self) -> None:
        """A thread blocked in execute_code_node_sync gets a retryable InfrastructureError
        when shutdown_sync runs (as from a signal.signal handler); nothing is left."""
        import threading

        from turnout import codenode
        from turnout.loop_thread import shared_loop_thread

        before = descendants()
        node = {"language": "python", "code": HANGS["python"], "timeout": 60_000}
        outcome: list[object] = []

        def call() -> None:
            try:
                outcome.append(
                    codenode.execute_code_node_sync(node, {}, backend="local-subprocess")
                )
            except TurnoutError as error:
                outcome.append(error)

        thread = threading.Thread(target=call)
        thread.start()
        loop = None
        try:
            for _ in range(400):
                thread_loop = shared_loop_thread()
                loop = thread_loop.loop if thread_loop.started else None
                engines = loop_engines(loop) if loop is not None else []
                if engines and engines[0].in_flight.count == 1 and descendants() - before:
                    break
                threading.Event().wait(0.05)
            threading.Event().wait(0.3)
            report = codenode.shutdown_sync()
            thread.join(timeout=60)
        finally:
            if loop is not None:
                codenode._clients.pop(loop, None)  # later tests get a fresh client
        assert report is not None
        assert report.interrupted == 1
        [error] = outcome
        assert isinstance(error, InfrastructureError)
        assert (error.retryable, error.started) == (True, True)
        for _ in range(50):
            if not descendants() - before:
                break
            threading.Event().wait(0.1)
        assert descendants() - before == set()
