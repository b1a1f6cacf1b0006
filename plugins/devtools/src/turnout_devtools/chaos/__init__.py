"""`turnout chaos`: faults under load against the local E2B-compatible server.

    spec.py     the fault spec (`create_429=3%,...`), the workload and the seeded plan
    server.py   the local server, through its supervisor (turnout_e2b_server)
    run.py      one run: the plan through `Engine.execute` on e2b, faults injected, accounted
    observers.py  what the run watches beside the executions (readiness, code start, peak, events)
    report.py   the figures, the four required properties, the printed table

The names below load their module on first use: every plugin command's parser is built
with `turnout chaos`'s, which reads the fault kinds of spec.py, and must not pay for the
run and its report (asyncio and the bench's statistics) to do so.

See docs/reliability.md for what a run proves and the recorded 1,000-execution run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turnout_devtools.chaos.report import ChaosReport, ExecutionRecord, render_text
    from turnout_devtools.chaos.run import ChaosOptions, run_chaos
    from turnout_devtools.chaos.spec import (
        DEFAULT_SPEC,
        FAULT_KINDS,
        FaultSpec,
        PlannedExecution,
        plan,
    )

__all__ = [
    "DEFAULT_SPEC",
    "FAULT_KINDS",
    "ChaosOptions",
    "ChaosReport",
    "ExecutionRecord",
    "FaultSpec",
    "PlannedExecution",
    "plan",
    "render_text",
    "run_chaos",
]

_HOMES = {
    "ChaosReport": "report",
    "ExecutionRecord": "report",
    "render_text": "report",
    "ChaosOptions": "run",
    "run_chaos": "run",
    "DEFAULT_SPEC": "spec",
    "FAULT_KINDS": "spec",
    "FaultSpec": "spec",
    "PlannedExecution": "spec",
    "plan": "spec",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value
