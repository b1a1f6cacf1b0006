"""How long each execution spent being provisioned, so wall-time bounds measure the code.

Why: a case's `max_wall_ms` checks that a backend stops the code at its timeout. The
caller's wall time also holds what the backend needed before the code could start: a free
slot and, on e2b, a sandbox (about 150 ms at E2B, seconds on a loaded local server whose
kernel pool ran dry). That is provisioning, measured and reported by the benchmarks, not
timeout enforcement. Each backend instance is wrapped so that the provisioning phases of
every result (`turnout.backend.PROVISIONING_PHASES`) are recorded under the run's label;
the runner subtracts them from the wall time it checks and reports them beside it.

What is subtracted is capped at `PROVISIONING_CAP_MS`: the figure comes from the backend
under test, and a backend that enforced a timeout late could otherwise hide the delay by
labelling part of the run as `create`. Whatever provisioning exceeds the cap counts as the
code's time; both figures are shown beside a failing bound. The cap is above what the local
E2B-compatible server needs on a loaded two-core machine (docs/conformance.md), and the
slow `timeouts` case whose timeout is longer than the cap plus its grace catches a timeout
enforced at twice its value even when the excess is labelled as provisioning.
"""

from __future__ import annotations

from typing import Any, ClassVar

from turnout.backend import ExecutionBackend, provisioning_ms
from turnout.models import Capabilities, ExecutionRequest, ExecutionResult

__all__ = ["PROVISIONING_CAP_MS", "RUN_LABEL", "ProvisioningClock", "counted_provisioning"]

# The label that carries one run's key into ExecutionRequest.labels (never into envelopes).
RUN_LABEL = "conformance_run"
#: The most provisioning time subtracted from one execution's wall time.
PROVISIONING_CAP_MS = 10_000.0


def counted_provisioning(reported_ms: float) -> float:
    """How much of the provisioning a backend reported is left out of its wall time."""
    return max(0.0, min(reported_ms, PROVISIONING_CAP_MS))


class ProvisioningClock:
    """Collects provisioning milliseconds per run key; give `wrap` to `Engine.instrument`."""

    def __init__(self) -> None:
        self._spent: dict[str, float] = {}

    def wrap(self, backend: ExecutionBackend) -> ExecutionBackend:
        """`backend`, recording the provisioning time of every labelled execution."""
        if isinstance(backend, _Recorded):
            return backend
        recorded = type(f"Recorded_{type(backend).__name__}", (_Recorded,), {"id": backend.id})
        instance: ExecutionBackend = recorded(backend, self._spent)
        return instance

    def take(self, run_key: str) -> float:
        """The provisioning milliseconds recorded for `run_key` (0 if its backend returned
        no result, for example when it failed before the code started), then forgets it."""
        return self._spent.pop(run_key, 0.0)


class _Recorded:
    """A backend seen through the clock; everything but `execute` goes to the backend."""

    id: ClassVar[str] = ""

    def __init__(self, inner: ExecutionBackend, spent: dict[str, float]) -> None:
        self._inner = inner
        self._spent = spent

    @property
    def capabilities(self) -> Capabilities:
        return self._inner.capabilities

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        result = await self._inner.execute(request)
        run_key = request.labels.get(RUN_LABEL)
        if run_key:
            self._spent[run_key] = provisioning_ms(result.timings_ms)
        return result

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
