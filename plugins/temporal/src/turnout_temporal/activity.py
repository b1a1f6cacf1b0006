"""The `execute_code_node` activity: one code node per activity task, on the worker's client.

Input `{node, context, tenantId?, workflowId?, executionId?}` (see `inputs`), failures as
in `failures`. The node runs through the worker's `turnout.Client` (`Client.execute`, the
rollout ids as its parameters), so the activity decides, validates and runs exactly as the
library does, and its result is `Envelope.to_dict()`: the JSON `turnout run --json` prints
for the same node, `{outputVariable: envelope}` when the node names one.

While the execution runs the activity heartbeats, because a heartbeat is the only way a
cancellation reaches a running activity: Temporal answers a heartbeat with "cancel
requested" when the workflow cancelled it, and with "not found" once it timed out
(start-to-close, schedule-to-close, or a heartbeat timeout after a stall). The SDK then
cancels the activity's task, the client cancels the execution, and the backend kills the
sandbox or process group before the cancellation goes on (see `turnout.shutdown`).

How soon a cancellation arrives is the heartbeat interval: the worker sends a heartbeat at
least every `heartbeat_interval_s` (and, when the caller set a shorter heartbeat timeout,
every 80% of it, the SDK's throttle), so a cancelled execution is killed within about one
interval plus the kill itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from temporalio import activity

from turnout import Client
from turnout.errors import TurnoutError
from turnout.logging import get_logger
from turnout_temporal.defaults import ACTIVITY_NAME, DEFAULT_HEARTBEAT_INTERVAL_S
from turnout_temporal.failures import interrupted_by_shutdown, to_application_error
from turnout_temporal.inputs import RolloutIds, parse_input

__all__ = ["ACTIVITY_NAME", "DEFAULT_HEARTBEAT_INTERVAL_S", "CodeNodeActivity"]

log = get_logger("turnout.temporal")


class CodeNodeActivity:
    """The activity over one client, shared by every activity task of the worker (whoever
    made the client opens and closes it: the activity only executes on it)."""

    def __init__(
        self, client: Client, *, heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL_S
    ) -> None:
        if heartbeat_interval_s <= 0:
            raise ValueError("heartbeat_interval_s must be positive")
        self.client = client
        self.heartbeat_interval_s = heartbeat_interval_s

    @activity.defn(name=ACTIVITY_NAME)
    async def execute_code_node(self, payload: Any) -> dict[str, Any]:
        """Run one code node; the envelope, or an `ApplicationError` saying whether to retry."""
        info = activity.info()
        try:
            request = parse_input(payload)
            ids = RolloutIds.resolve(
                request, workflow_id=info.workflow_id, workflow_run_id=info.workflow_run_id
            )
            async with self._heartbeats(info.heartbeat_timeout):
                envelope = await self.client.execute(
                    request.node,
                    request.context,
                    tenant_id=ids.tenant_id,
                    workflow_id=ids.workflow_id,
                    execution_id=ids.execution_id,
                )
            return envelope.to_dict()
        except TurnoutError as error:
            raise to_application_error(error) from None
        except asyncio.CancelledError:
            details = activity.cancellation_details()
            reasons = _reasons(details)
            log.warning(
                "code_node_activity_cancelled",
                reasons=reasons,
                workflow_id=info.workflow_id,
                activity_id=info.activity_id,
                attempt=info.attempt,
            )
            if reasons == ["worker_shutdown"]:
                # Nobody asked for this execution to stop: it is retried elsewhere.
                raise interrupted_by_shutdown() from None
            raise

    @contextlib.asynccontextmanager
    async def _heartbeats(self, heartbeat_timeout: timedelta | None) -> AsyncIterator[None]:
        """Heartbeat until the block ends (the SDK sends them at most once per throttle
        interval, which the worker sets to the heartbeat interval)."""
        every = self.heartbeat_interval_s
        if heartbeat_timeout is not None:
            every = min(every, heartbeat_timeout.total_seconds() / 2)

        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(every)

        task = asyncio.get_running_loop().create_task(beat(), name="turnout-heartbeat")
        try:
            yield
        finally:
            task.cancel()  # stops at its sleep: no heartbeat after the activity ends


def _reasons(details: activity.ActivityCancellationDetails | None) -> list[str]:
    """Why the activity was cancelled, as the SDK reported it (empty when it did not say)."""
    if details is None:
        return []
    names = ("cancel_requested", "timed_out", "not_found", "worker_shutdown", "paused", "reset")
    return [name for name in names if getattr(details, name)]
