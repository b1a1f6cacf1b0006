"""What the executions in a log cost: sums per environment, tenant and workflow.

Read from the `usage` of `code_node_executed` events (see `ExecutionResult.usage`; the e2b
backend reports `sandboxSeconds`, `poolIdleSeconds` and `costUsd`), for every run whatever
its role or outcome: shadow runs and failed runs cost money too (shadow runs are also
summed apart). Runs without `usage` (local-subprocess) add nothing.

What the sums leave out, by construction: the seconds between a result and the completed
kill of its sandbox (the kill runs after the envelope is returned; `sandbox_released`
events carry the exact create-to-kill figure), pooled sandboxes that were never taken
(replaced or drained: `sandbox_released` with reason `expired` or `drained`), and runs that
failed before the backend returned a result (an infrastructure error mid-run). Tenants and
workflows come from the run's labels (`label_tenant`, `label_workflow`); runs without one
are summed under `-`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from turnout.log_events import CodeNodeExecuted

__all__ = ["NO_LABEL", "TOP_COST_ROWS", "CostSum", "EnvironmentCosts", "read_usage"]

NO_LABEL = "-"
TOP_COST_ROWS = 10
_FIELDS = {
    "sandboxSeconds": "sandbox_seconds",
    "poolIdleSeconds": "pool_idle_seconds",
    "costUsd": "cost_usd",
}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def read_usage(event: CodeNodeExecuted) -> dict[str, float] | None:
    """The usage figures of one event (snake_case), or None when it carries none."""
    usage = event.usage
    if usage is None:
        return None
    found = {name: _number(usage.get(key)) for key, name in _FIELDS.items()}
    if all(value is None for value in found.values()):
        return None
    return {name: value or 0.0 for name, value in found.items()}


@dataclass
class CostSum:
    """Runs with usage, and their sandbox-seconds, pool idle seconds and dollars."""

    runs: int = 0
    sandbox_seconds: float = 0.0
    pool_idle_seconds: float = 0.0
    cost_usd: float = 0.0

    def add(self, usage: dict[str, float]) -> None:
        self.runs += 1
        self.sandbox_seconds += usage["sandbox_seconds"]
        self.pool_idle_seconds += usage["pool_idle_seconds"]
        self.cost_usd += usage["cost_usd"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "sandbox_seconds": round(self.sandbox_seconds, 3),
            "pool_idle_seconds": round(self.pool_idle_seconds, 3),
            "cost_usd": round(self.cost_usd, 6),
        }


@dataclass
class EnvironmentCosts:
    """Cost sums of one environment: in total, for shadow runs, per tenant and workflow."""

    total: CostSum = field(default_factory=CostSum)
    shadow: CostSum = field(default_factory=CostSum)
    tenants: dict[str, CostSum] = field(default_factory=dict)
    workflows: dict[str, CostSum] = field(default_factory=dict)

    def add(self, event: CodeNodeExecuted) -> bool:
        """Count one `code_node_executed` event; False when it carries no usage."""
        usage = read_usage(event)
        if usage is None:
            return False
        self.total.add(usage)
        if event.role == "shadow":
            self.shadow.add(usage)
        for sums, key in ((self.tenants, "tenant"), (self.workflows, "workflow")):
            sums.setdefault(event.labels.get(key) or NO_LABEL, CostSum()).add(usage)
        return True

    @staticmethod
    def ranked(sums: dict[str, CostSum]) -> list[tuple[str, CostSum]]:
        """Most expensive first (then by name)."""
        return sorted(sums.items(), key=lambda item: (-item[1].cost_usd, item[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.total.to_dict(),
            "shadow": self.shadow.to_dict(),
            "tenants": {name: s.to_dict() for name, s in self.ranked(self.tenants)},
            "workflows": {name: s.to_dict() for name, s in self.ranked(self.workflows)},
        }
