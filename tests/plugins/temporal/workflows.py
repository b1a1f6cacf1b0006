"""The Python workflow the tests run: one `execute_code_node` activity, options from the call.

A workflow module of its own, because Temporal's workflow sandbox re-imports the module a
workflow is defined in, and a test module imports far more than a workflow may.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

TEST_TASK_QUEUE = "turnout-tests"


@workflow.defn(name="RunCodeNode")
class RunCodeNode:
    """Schedules `execute_code_node` with `call["input"]` on `call["taskQueue"]`.

    Options (all optional): `startToCloseS` (default 60), `heartbeatS`, `maximumAttempts`
    (default 3), `initialIntervalS` (default 0.2, the first retry's delay).
    """

    @workflow.run
    async def run(self, call: dict[str, Any]) -> Any:
        heartbeat = call.get("heartbeatS")
        return await workflow.execute_activity(
            "execute_code_node",
            call["input"],
            task_queue=call["taskQueue"],
            start_to_close_timeout=timedelta(seconds=call.get("startToCloseS", 60)),
            heartbeat_timeout=None if heartbeat is None else timedelta(seconds=heartbeat),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=call.get("initialIntervalS", 0.2)),
                backoff_coefficient=1.0,
                maximum_attempts=call.get("maximumAttempts", 3),
            ),
        )
