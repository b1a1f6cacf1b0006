"""The worker process: its concurrency follows the backends, and SIGTERM drains it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from turnout_e2b_server.testing import ServerProcess
from turnout_temporal.testing import TemporalTestServer

from .probes import ProcessProbe, SandboxProbe
from .support import WorkerProcess, Workflows, hang_input, node_input

DRAIN_QUEUE = "turnout-drain-test"
GRACE_S = 5.0


@pytest.fixture
def draining_worker(
    temporal_server: TemporalTestServer, flags_file: Path, e2b_server: ServerProcess
) -> Iterator[WorkerProcess]:
    """A worker of its own, on a task queue of its own, with a 5 s grace period."""
    process = WorkerProcess(
        temporal_server.address,
        flags_file,
        *("--task-queue", DRAIN_QUEUE, "--grace", str(GRACE_S)),
        e2b_key=e2b_server.api_key,
    ).start()
    try:
        yield process
    finally:
        process.stop()


class TestConcurrency:
    def test_the_worker_takes_as_many_activities_as_its_smallest_backend_runs(
        self, worker: WorkerProcess
    ) -> None:
        """Both backends answer in the test flags (local-subprocess by default, e2b for one
        tenant): the worker polls for 8 activities at once, local-subprocess's default."""
        started = worker.wait_for(lambda e: e.get("event") == "worker_started")
        assert started["backends"] == ["e2b", "local-subprocess"]
        assert started["max_concurrent_activities"] == 8


class TestGracefulShutdown:
    async def test_sigterm_lets_short_executions_finish_and_cancels_the_rest(
        self, workflows: Workflows, draining_worker: WorkerProcess, e2b: ServerProcess
    ) -> None:
        """SIGTERM: an execution that ends within the grace period returns its envelope;
        one that would not is cancelled after it, its sandbox killed, and it fails with the
        retryable ExecutionInterruptedError that Temporal retries; the worker exits 0."""
        drain = Workflows(workflows.client, task_queue=DRAIN_QUEUE)
        long = await drain.start(hang_input("e2b"), maximumAttempts=2)
        sandboxes = await SandboxProbe(e2b).running()
        short = await drain.start(
            node_input("python", "import time\ntime.sleep(1.5)\nreturn 'finished'"),
            maximumAttempts=1,
        )
        await ProcessProbe(draining_worker).running()
        signalled = time.monotonic()
        draining_worker.terminate()
        assert (await short.result())["output"] == "finished"
        status = await asyncio.to_thread(draining_worker.wait, 60)
        assert status == 0, draining_worker.output()
        assert time.monotonic() - signalled >= GRACE_S
        await SandboxProbe(e2b).gone_at(sandboxes, timeout_s=1.0)  # killed before the exit
        cancelled = draining_worker.wait_for(
            lambda e: e.get("event") == "code_node_activity_cancelled"
        )
        assert (cancelled["workflow_id"], cancelled["reasons"]) == (long.id, ["worker_shutdown"])
        description = await long.describe()
        [pending] = description.raw_description.pending_activities
        assert pending.attempt == 2  # failed retryably: waiting for a worker to retry it
        last = pending.last_failure.application_failure_info
        assert (last.type, last.non_retryable) == ("ExecutionInterruptedError", False)
        await long.terminate()
