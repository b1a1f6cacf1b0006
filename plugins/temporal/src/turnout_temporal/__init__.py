"""turnout-temporal: code nodes as a Temporal activity, `execute_code_node`.

`turnout worker` (see `commands`) polls a task queue; a workflow in any Temporal SDK
language schedules the activity with `{node, context, tenantId?, workflowId?, executionId?}`
and gets the envelope back, or an `ApplicationError` that says whether to retry. See
docs/temporal.md.

Only what needs no Temporal SDK is re-exported here, because every `turnout` command loads
this package (the plugin hook) and the SDK takes most of a second to import. The worker
itself is in `turnout_temporal.worker` (`run_worker`, `WorkerSettings`, `connect`), the
activity in `turnout_temporal.activity` (`CodeNodeActivity`), the error mapping in
`turnout_temporal.failures`.
"""

from turnout_temporal.defaults import (
    ACTIVITY_NAME,
    DEFAULT_ADDRESS,
    DEFAULT_GRACE_S,
    DEFAULT_HEARTBEAT_INTERVAL_S,
    DEFAULT_NAMESPACE,
    DEFAULT_TASK_QUEUE,
)
from turnout_temporal.inputs import CodeNodeInput, RolloutIds, parse_input

__all__ = [
    "ACTIVITY_NAME",
    "DEFAULT_ADDRESS",
    "DEFAULT_GRACE_S",
    "DEFAULT_HEARTBEAT_INTERVAL_S",
    "DEFAULT_NAMESPACE",
    "DEFAULT_TASK_QUEUE",
    "CodeNodeInput",
    "RolloutIds",
    "parse_input",
]
