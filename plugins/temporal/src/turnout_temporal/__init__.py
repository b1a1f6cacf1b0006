"""turnout-temporal: code nodes as a Temporal activity, `execute_code_node`.

`turnout worker` (see `commands`) polls a task queue; a workflow in any Temporal SDK
language schedules the activity with `{node, context, tenantId?, workflowId?, executionId?}`
and gets the envelope back, or an `ApplicationError` that says whether to retry. See
docs/temporal.md.
"""

from turnout_temporal.activity import ACTIVITY_NAME, DEFAULT_HEARTBEAT_INTERVAL_S, CodeNodeActivity
from turnout_temporal.failures import failure_type, to_application_error
from turnout_temporal.inputs import CodeNodeInput, RolloutIds, parse_input
from turnout_temporal.worker import (
    DEFAULT_ADDRESS,
    DEFAULT_GRACE_S,
    DEFAULT_NAMESPACE,
    DEFAULT_TASK_QUEUE,
    WorkerSettings,
    connect,
    run_worker,
)

__all__ = [
    "ACTIVITY_NAME",
    "DEFAULT_ADDRESS",
    "DEFAULT_GRACE_S",
    "DEFAULT_HEARTBEAT_INTERVAL_S",
    "DEFAULT_NAMESPACE",
    "DEFAULT_TASK_QUEUE",
    "CodeNodeActivity",
    "CodeNodeInput",
    "RolloutIds",
    "WorkerSettings",
    "connect",
    "failure_type",
    "parse_input",
    "run_worker",
    "to_application_error",
]
