"""Cancellation and timeouts reach the running code: a cancelled workflow, a timed-out
activity or a stalled worker ends with the sandbox or process killed within the promise
(one heartbeat interval for the news to reach the worker, then one second for the kill),
and heartbeats keep a long execution alive past its heartbeat timeout."""

from __future__ import annotations

import os
import signal
import time

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, CancelledError, TimeoutError, TimeoutType
from turnout_e2b_server.testing import ServerProcess
from turnout_temporal import DEFAULT_HEARTBEAT_INTERVAL_S

from .probes import ExecutionProbe, ProcessProbe, SandboxProbe
from .support import WorkerProcess, Workflows, hang_input, node_input

KILL_BOUND_S = 1.0
"""The promise: once the cancellation reaches the worker, the kill takes at most this."""
BOUND_S = DEFAULT_HEARTBEAT_INTERVAL_S + KILL_BOUND_S


@pytest.fixture(params=["local-subprocess", "e2b"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def probe_for(backend: str, worker: WorkerProcess, e2b: ServerProcess) -> ExecutionProbe:
    return SandboxProbe(e2b) if backend == "e2b" else ProcessProbe(worker)


def assert_cancelled_by_temporal(worker: WorkerProcess, workflow_id: str) -> None:
    """The worker logged the activity's cancellation, for a reason Temporal gave: the
    cancel request, or (once the workflow or the attempt is over) "not found" / "timed out"
    in answer to a heartbeat; never its own shutdown."""
    event = worker.wait_for(
        lambda e: (
            e.get("event") == "code_node_activity_cancelled" and e.get("workflow_id") == workflow_id
        )
    )
    assert set(event["reasons"]) & {"cancel_requested", "not_found", "timed_out"}, event
    assert "worker_shutdown" not in event["reasons"]


async def timeout_of(handle: object) -> TimeoutError:
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()  # type: ignore[attr-defined]
    activity_error = failed.value.cause
    assert isinstance(activity_error, ActivityError), activity_error
    assert isinstance(activity_error.cause, TimeoutError), activity_error.cause
    return activity_error.cause


class TestCancellation:
    async def test_cancelling_the_workflow_kills_the_execution(
        self, workflows: Workflows, worker: WorkerProcess, e2b: ServerProcess, backend: str
    ) -> None:
        """A cancelled workflow: its running code node's sandbox or process is gone within
        one heartbeat interval plus one second of the cancel request."""
        probe = probe_for(backend, worker, e2b)
        handle = await workflows.start(hang_input(backend))
        running = await probe.running()
        requested = time.time()
        await handle.cancel()
        gone = await probe.gone_at(running)
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
        assert isinstance(failed.value.cause, CancelledError)
        assert_cancelled_by_temporal(worker, handle.id)
        print(f"{backend}: killed {gone - requested:.3f} s after the cancel request")
        assert gone - requested <= BOUND_S


class TestTimeouts:
    async def test_a_timed_out_activity_has_its_sandbox_killed(
        self, workflows: Workflows, worker: WorkerProcess, e2b: ServerProcess
    ) -> None:
        """Start-to-close of 2 s on a node that would run 60 s: the workflow gets the
        timeout, and the sandbox is gone within the bound of the server's timing out."""
        probe = SandboxProbe(e2b)
        handle = await workflows.start(hang_input("e2b"), startToCloseS=2, maximumAttempts=1)
        running = await probe.running()
        timeout = await timeout_of(handle)
        timed_out = time.time()  # the server timed the activity out before this
        assert timeout.type == TimeoutType.START_TO_CLOSE
        gone = await probe.gone_at(running)
        assert_cancelled_by_temporal(worker, handle.id)
        print(f"e2b: killed {gone - timed_out:.3f} s after the workflow saw the timeout")
        assert gone - timed_out <= BOUND_S

    async def test_heartbeats_keep_a_run_longer_than_the_heartbeat_timeout_alive(
        self, workflows: Workflows
    ) -> None:
        """A node running 2.5 s under a 1 s heartbeat timeout succeeds: the worker
        heartbeats while the code runs."""
        payload = node_input("python", "import time\ntime.sleep(2.5)\nreturn 'done'")
        envelope = await workflows.run(payload, heartbeatS=1, maximumAttempts=1)
        assert envelope["output"] == "done"

    async def test_a_stalled_worker_times_out_and_its_process_is_killed_when_it_resumes(
        self, workflows: Workflows, worker: WorkerProcess
    ) -> None:
        """The worker stopped (SIGSTOP) past a 1 s heartbeat timeout: the workflow gets a
        heartbeat timeout, and once the worker resumes, the execution's process is gone
        within the bound."""
        probe = ProcessProbe(worker)
        handle = await workflows.start(
            hang_input("local-subprocess"), heartbeatS=1, maximumAttempts=1
        )
        running = await probe.running()
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            timeout = await timeout_of(handle)
        finally:
            resumed = time.time()
            os.kill(worker.pid, signal.SIGCONT)
        assert timeout.type == TimeoutType.HEARTBEAT
        gone = await probe.gone_at(running)
        assert_cancelled_by_temporal(worker, handle.id)
        print(f"local-subprocess: killed {gone - resumed:.3f} s after the worker resumed")
        assert gone - resumed <= BOUND_S
