"""The warm pool of the e2b backend, against the local E2B-compatible server.

No wall-clock bound is asserted: waits poll the server (or the pool) until a state is
reached, with a generous limit that only fails a test that would otherwise hang.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from turnout_e2b import E2BBackend
from turnout_e2b.events import EVENT_TYPES, PoolRefillFailed, parse_e2b_event
from turnout_e2b.pool import SandboxPool
from turnout_e2b_server.testing import ServerProcess

from turnout import BackendSettings, ConfigurationError
from turnout.contract import prepare_request
from turnout.engine import Engine
from turnout.logging import capture_logs
from turnout.models import ExecutionRequest, parse_config

pytestmark = pytest.mark.usefixtures("e2b_url")

LIMIT_S = 20.0
EXIT_LIMIT_S = 90.0
"""How long a child may take to exit: its exit hook may look for an abandoned create for
5 s and then kill sandboxes one by one, synchronously, which on a loaded 2-core machine
took over 20 s once (0.8 s when quiet). Only a hang fails against it."""


def backend(**options: Any) -> E2BBackend:
    return E2BBackend(BackendSettings(environment="test", options=options))


def pooled(size: int = 2, **options: Any) -> E2BBackend:
    return backend(pool_size=size, **options)


def request(code: str = "return 1", timeout: int = 10_000) -> ExecutionRequest:
    config = parse_config({"language": "python", "code": code, "timeout": timeout})
    return prepare_request(
        config, {}, execution_id="p" + str(time.time_ns()), max_result_bytes=1 << 20
    )


def live_ids(server: ServerProcess) -> set[str]:
    return {s["sandboxID"] for s in server.stats()["sandboxes"]}


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Poll until `condition` holds; fail (naming `what`) only if it never does."""
    deadline = time.monotonic() + LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for: {what}")
        await asyncio.sleep(0.05)


def full(pool: SandboxPool) -> bool:
    return pool.idle == pool.size


async def filled(instance: E2BBackend) -> None:
    """Run one execution (which starts the pool) and wait until the pool is full."""
    await instance.execute(request())
    pool = instance.pool
    assert pool is not None
    await eventually(lambda: pool.idle == pool.size, "the pool to fill")


class TestOneExecutionPerSandbox:
    async def test_sandbox_ids_are_never_reused(self) -> None:
        """Every execution, pooled or not, runs in a sandbox no other execution used."""
        instance = pooled(2)
        try:
            ids = []
            for _ in range(5):
                ids.append((await instance.execute(request())).sandbox_id)
                pool = instance.pool
                assert pool is not None
                await eventually(partial(full, pool), "the pool to refill")
        finally:
            await instance.aclose()
        assert len(set(ids)) == len(ids)

    async def test_a_taken_sandbox_is_killed_after_its_execution(
        self, e2b_server: ServerProcess
    ) -> None:
        """Once its execution has returned, a pooled sandbox is killed, not put back."""
        instance = pooled(1)
        try:
            await filled(instance)
            result = await instance.execute(request())
            assert result.timings_ms["pool_hit"] == 1.0
            await eventually(lambda: result.sandbox_id not in live_ids(e2b_server), "the kill")
            pool = instance.pool
            assert pool is not None
            assert result.sandbox_id not in pool.ready_ids
        finally:
            await instance.aclose()

    async def test_a_pooled_sandbox_is_tagged_for_the_reaper(
        self, e2b_server: ServerProcess
    ) -> None:
        """Pooled sandboxes carry turnout's owner tag and their environment."""
        instance = pooled(1)
        try:
            await filled(instance)
            pool = instance.pool
            assert pool is not None
            (waiting,) = pool.ready_ids
            found = {s["sandboxID"]: s for s in e2b_server.stats()["sandboxes"]}
            metadata = found[waiting]["metadata"]
        finally:
            await instance.aclose()
        assert (metadata["turnout"], metadata["turnout_environment"]) == ("1", "test")
        assert metadata["turnout_pool"] == "1"


class TestHitsAndMisses:
    async def test_first_execution_misses_and_a_later_one_hits(self) -> None:
        """The pool starts with the first execution (a miss); once filled, executions hit."""
        instance = pooled(1)
        try:
            first = await instance.execute(request())
            pool = instance.pool
            assert pool is not None
            await eventually(lambda: pool.idle == 1, "the pool to fill")
            second = await instance.execute(request())
            stats = pool.stats
        finally:
            await instance.aclose()
        assert (first.timings_ms["pool_hit"], second.timings_ms["pool_hit"]) == (0.0, 1.0)
        assert "create" in first.timings_ms
        assert "pool_take" in second.timings_ms
        assert (stats.hits, stats.misses) == (1, 1)

    def test_constructing_the_backend_starts_no_pool(self, e2b_server: ServerProcess) -> None:
        """Construction (as `turnout backends` does) creates no sandbox."""
        instance = pooled(3)
        assert instance.capabilities.isolation == "process"  # the local server
        assert instance.pool is None
        assert e2b_server.stats()["counters"].get("creates", 0) == 0

    async def test_pool_size_is_set_per_environment_in_the_flag_file(
        self, tmp_path: Path, e2b_server: ServerProcess
    ) -> None:
        """`pool_size` under one environment's e2b options pools there, and only there."""
        flags = tmp_path / "feature_flags.toml"
        flags.write_text(
            textwrap.dedent(
                """
                schema_version = 1
                [environments.pooled]
                legacy_backend = "local-subprocess"
                target_backend = "e2b"
                stage = "rampdown"
                [environments.pooled.backends.e2b]
                pool_size = 2
                [environments.plain]
                legacy_backend = "local-subprocess"
                target_backend = "e2b"
                stage = "rampdown"
                """
            )
        )
        node = parse_config({"language": "python", "code": "return 1"})
        engines = {env: Engine(env, flags_path=flags) for env in ("pooled", "plain")}
        try:
            for engine in engines.values():
                assert (await engine.execute(node, {})).output == 1
            pooled_backend = engines["pooled"].backend("e2b")
            plain_backend = engines["plain"].backend("e2b")
            assert isinstance(pooled_backend, E2BBackend)
            assert isinstance(plain_backend, E2BBackend)
            pool = pooled_backend.pool
            assert pool is not None
            assert pool.size == 2
            await eventually(lambda: pool.idle == 2, "the pool to fill")
            assert plain_backend.pool is None
        finally:
            for engine in engines.values():
                await engine.aclose()
        assert live_ids(e2b_server) == set()

    def test_a_negative_pool_size_is_a_configuration_error(self) -> None:
        """The pool options are validated like every other option."""
        with pytest.raises(ConfigurationError, match="pool_size"):
            pooled(-1)


class TestRefill:
    async def test_refill_recovers_after_create_failures(self, e2b_server: ServerProcess) -> None:
        """Three failed refills in a row are retried with backoff until the pool is full."""
        instance = pooled(1, pool_refill_backoff_s=0.02, pool_refill_backoff_max_s=0.1)
        try:
            await filled(instance)
            e2b_server.inject({"kind": "create_error", "status": 503, "count": 3})
            await instance.execute(request())  # a hit, which starts a refill
            pool = instance.pool
            assert pool is not None
            await eventually(lambda: pool.idle == 1, "the pool to refill")
            failures = pool.stats.create_failures
        finally:
            await instance.aclose()
        assert failures == 3
        assert e2b_server.stats()["counters"]["faults_fired"] >= 3

    async def test_failed_refills_back_off_longer_each_time(
        self, e2b_server: ServerProcess
    ) -> None:
        """Each consecutive failure waits at least as long as the one before."""
        instance = pooled(1, pool_refill_backoff_s=0.02, pool_refill_backoff_max_s=1.0)
        try:
            await filled(instance)
            e2b_server.inject({"kind": "create_error", "status": 503, "count": 3})
            with capture_logs() as logs:
                await instance.execute(request())
                pool = instance.pool
                assert pool is not None
                await eventually(lambda: pool.idle == 1, "the pool to refill")
        finally:
            await instance.aclose()
        events = [parse_e2b_event(e) for e in logs if e["event"] in EVENT_TYPES]
        failed = [e for e in events if isinstance(e, PoolRefillFailed)]
        assert [e.consecutive_failures for e in failed] == [1, 2, 3]
        waits = [e.retry_in_s for e in failed]
        assert waits == sorted(waits)


class TestMaxAge:
    async def test_sandboxes_past_their_age_are_replaced(self, e2b_server: ServerProcess) -> None:
        """A pooled sandbox older than pool_max_age_s is killed and a fresh one takes its place."""
        instance = pooled(1, pool_max_age_s=1)
        try:
            await filled(instance)
            pool = instance.pool
            assert pool is not None
            (old,) = pool.ready_ids
            await eventually(lambda: pool.stats.expired >= 1, "the sandbox to expire")
            await eventually(lambda: pool.idle == 1 and pool.ready_ids != [old], "a replacement")
            await eventually(lambda: old not in live_ids(e2b_server), "the old sandbox's kill")
        finally:
            await instance.aclose()

    async def test_a_taken_sandbox_gets_the_nodes_lifetime(self, e2b_server: ServerProcess) -> None:
        """When taken, a pooled sandbox's lifetime is cut to the node's timeout plus margin."""
        instance = pooled(1, lifetime_margin_s=30)
        try:
            await filled(instance)
            pool = instance.pool
            assert pool is not None
            (waiting,) = pool.ready_ids
            before = {s["sandboxID"]: s["endAt"] for s in e2b_server.stats()["sandboxes"]}
            task = asyncio.create_task(
                instance.execute(request("import time\ntime.sleep(0.5)", timeout=5000))
            )

            def shortened() -> bool:
                after = {s["sandboxID"]: s["endAt"] for s in e2b_server.stats()["sandboxes"]}
                return str(after.get(waiting, before[waiting])) < str(before[waiting])

            await eventually(shortened, "the lifetime update")
            await task
        finally:
            await instance.aclose()


class TestDrain:
    async def test_close_kills_every_pooled_sandbox(self, e2b_server: ServerProcess) -> None:
        """After aclose the server lists no live sandbox, pooled ones included."""
        instance = pooled(3)
        await filled(instance)
        assert len(live_ids(e2b_server)) >= 3
        await instance.aclose()
        assert live_ids(e2b_server) == set()

    async def test_creates_in_flight_at_close_are_killed(self, e2b_server: ServerProcess) -> None:
        """A refill still creating when aclose starts is awaited and its sandbox killed."""
        instance = pooled(1)
        await filled(instance)
        # Long enough that the refill is still in flight after the execution returns, even
        # on a loaded machine (no bound is asserted: a slower create only makes it wait).
        e2b_server.configure(create_delay_ms=3000)
        await instance.execute(request())  # a hit, which starts a refill
        pool = instance.pool
        assert pool is not None
        await eventually(lambda: pool.creating == 1, "the refill to start")
        await instance.aclose()
        assert live_ids(e2b_server) == set()
        assert pool.stats.drained == 1


class TestCancellation:
    async def test_cancelled_pooled_execution_leaves_nothing(
        self, e2b_server: ServerProcess
    ) -> None:
        """Cancelling an execution running in a pooled sandbox still kills that sandbox."""
        instance = pooled(1)
        await filled(instance)
        pool = instance.pool
        assert pool is not None
        (waiting,) = pool.ready_ids
        task = asyncio.create_task(instance.execute(request("import time\ntime.sleep(30)")))
        await eventually(lambda: waiting not in pool.ready_ids, "the take")
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await instance.aclose()
        assert live_ids(e2b_server) == set()

    async def test_cancel_during_create_kills_the_sandbox_it_made(
        self, e2b_server: ServerProcess
    ) -> None:
        """A caller cancelled while its sandbox is being created leaves no sandbox behind."""
        e2b_server.configure(create_delay_ms=500)
        instance = backend()
        task = asyncio.create_task(instance.execute(request()))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await instance.aclose()
        assert e2b_server.stats()["counters"].get("creates", 0) == 1
        assert live_ids(e2b_server) == set()


CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from turnout_e2b import E2BBackend
    from turnout import BackendSettings
    from turnout.contract import prepare_request
    from turnout.models import parse_config

    def request(code):
        config = parse_config({"language": "python", "code": code, "timeout": 60000})
        return prepare_request(config, {}, execution_id="c" + str(time.time_ns()),
                               max_result_bytes=1 << 20)

    async def main(mode):
        backend = E2BBackend(BackendSettings(environment="test", options={"pool_size": 2}))
        await backend.execute(request("return 1"))
        while backend.pool.idle < 2:
            await asyncio.sleep(0.05)
        if mode == "exit":
            print("ready", flush=True)
            return  # no aclose: the pool still holds two sandboxes
        task = asyncio.create_task(backend.execute(request("import time\\ntime.sleep(60)")))
        await asyncio.sleep(0.5)
        print("ready", flush=True)
        if mode == "cancel":
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return  # cancelled mid-execution, no aclose
        await task  # "interrupt": the parent sends SIGINT

    asyncio.run(main(sys.argv[1]))
    """
)


class TestProcessExit:
    def run_child(self, tmp_path: Path, url: str, mode: str) -> subprocess.Popen[str]:
        script = tmp_path / "child.py"
        script.write_text(CHILD)
        # os.environ holds the test server's key (the e2b_url fixture).
        env = {**os.environ, "E2B_API_URL": url, "NO_PROXY": "127.0.0.1,localhost"}
        child = subprocess.Popen(
            [sys.executable, str(script), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert child.stdout is not None
        for line in child.stdout:  # log lines come first (development console rendering)
            if line.strip() == "ready":
                return child
        pytest.fail("the child ended before it was ready")

    async def assert_nothing_left(self, server: ServerProcess) -> None:
        await eventually(lambda: server.stats()["live_sandboxes"] == 0, "no live sandbox")

    async def test_exit_without_close_leaves_no_sandbox(
        self, tmp_path: Path, e2b_server: ServerProcess, e2b_url: str
    ) -> None:
        """A process that exits with a full pool and no aclose has its sandboxes killed."""
        child = self.run_child(tmp_path, e2b_url, "exit")
        assert child.wait(EXIT_LIMIT_S) == 0
        await self.assert_nothing_left(e2b_server)

    async def test_cancelled_mid_execution_then_exit_leaves_no_sandbox(
        self, tmp_path: Path, e2b_server: ServerProcess, e2b_url: str
    ) -> None:
        """An execution cancelled mid-run, then the process exiting, leaves nothing alive."""
        child = self.run_child(tmp_path, e2b_url, "cancel")
        assert child.wait(EXIT_LIMIT_S) == 0
        await self.assert_nothing_left(e2b_server)

    async def test_interrupted_process_leaves_no_sandbox(
        self, tmp_path: Path, e2b_server: ServerProcess, e2b_url: str
    ) -> None:
        """Ctrl-C (SIGINT) during an execution kills the running and the pooled sandboxes."""
        child = self.run_child(tmp_path, e2b_url, "interrupt")
        assert e2b_server.stats()["live_sandboxes"] >= 3
        child.send_signal(signal.SIGINT)
        child.wait(EXIT_LIMIT_S)
        await self.assert_nothing_left(e2b_server)
