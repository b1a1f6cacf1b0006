"""`turnout chaos`: faults under load against the local E2B-compatible server.

    spec.py     the fault spec (`create_429=3%,...`), the workload and the seeded plan
    server.py   the local server in a child process, and its admin API (faults, stats)
    run.py      one run: the plan through `Engine.execute` on e2b, faults injected, accounted
    report.py   the figures, the four required properties, the printed table

See docs/reliability.md for what a run proves and the recorded 1,000-execution run.
"""

from turnout.chaos.report import ChaosReport, ExecutionRecord, render_text
from turnout.chaos.run import ChaosOptions, run_chaos
from turnout.chaos.spec import DEFAULT_SPEC, FAULT_KINDS, FaultSpec, PlannedExecution, plan

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
