"""The worker's names and defaults, in a module that imports nothing.

`turnout` builds every subcommand's parser on each run, so `turnout worker --help` and the
other commands must not pay for importing the Temporal SDK: the parser reads its defaults
from here, and the SDK is imported only when the worker runs.
"""

from __future__ import annotations

__all__ = [
    "ACTIVITY_NAME",
    "DEFAULT_ADDRESS",
    "DEFAULT_GRACE_S",
    "DEFAULT_HEARTBEAT_INTERVAL_S",
    "DEFAULT_NAMESPACE",
    "DEFAULT_TASK_QUEUE",
]

ACTIVITY_NAME = "execute_code_node"
DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "turnout-code-nodes"
DEFAULT_GRACE_S = 15.0
"""With the e2b kill bound (10 s) after it, within Kubernetes' default 30 s between SIGTERM
and SIGKILL."""
DEFAULT_HEARTBEAT_INTERVAL_S = 0.5
"""How long a cancellation takes at most to reach a running execution; each heartbeat that
reaches Temporal Cloud is a billable action."""
