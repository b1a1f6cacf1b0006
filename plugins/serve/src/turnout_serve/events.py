"""Metrics read from the engine's own events: stages, roles, shadow verdicts, fallbacks, cost.

The engine already says everything about each run in its log events (`code_node_executed`
per backend run, `shadow_comparison` per shadow, `fallback_to_legacy` per fallback), as
records of the `turnout` logger. A handler on that logger reads them back into the types
that define them (`turnout.log_events`) and counts them, so the service measures what the
engine did without a second code path; it sees the events as long as the `turnout` logger
is enabled for INFO, which `turnout serve` sets (`configure_logging`). A malformed event
is reported through `logging`'s `handleError`, never counted as something else.

- `turnout_engine_runs_total{backend, stage, role, outcome, kind}`: one per backend run,
  `role` direct, authoritative, shadow or fallback, `outcome` ok or error;
- `turnout_shadow_comparisons_total{verdict}`: match, ignored, mismatch, or a verdict of a
  run that could not compare (a candidate error);
- `turnout_fallbacks_total`: executions answered by the legacy backend after the target
  failed before running;
- `turnout_sandbox_seconds_total{backend}`, `turnout_cost_usd_total{backend}`: what the
  backends reported as usage.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from turnout.log_events import (
    CodeNodeExecuted,
    FallbackToLegacy,
    LogEvent,
    ShadowComparison,
    event_of_record,
)
from turnout.logging import ROOT_LOGGER

__all__ = ["EngineEventMetrics"]


class EngineEventMetrics(logging.Handler):
    """A logging handler counting the engine's events into `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(level=logging.INFO)
        self.runs = Counter(
            "turnout_engine_runs",
            "Backend runs, by backend, stage, role (direct, authoritative, shadow, fallback), "
            "outcome, kind.",
            ("backend", "stage", "role", "outcome", "kind"),
            registry=registry,
        )
        self.comparisons = Counter(
            "turnout_shadow_comparisons",
            "Shadow comparisons, by verdict.",
            ("verdict",),
            registry=registry,
        )
        self.fallbacks = Counter(
            "turnout_fallbacks",
            "Executions answered by the legacy backend after the target failed to start.",
            registry=registry,
        )
        self.sandbox_seconds = Counter(
            "turnout_sandbox_seconds",
            "Sandbox time the backends reported.",
            ("backend",),
            registry=registry,
        )
        self.cost = Counter(
            "turnout_cost_usd",
            "Cost the backends reported, in US dollars.",
            ("backend",),
            registry=registry,
        )

    def attach(self) -> None:
        logging.getLogger(ROOT_LOGGER).addHandler(self)

    def detach(self) -> None:
        logging.getLogger(ROOT_LOGGER).removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = event_of_record(record)
            if event is not None:
                self._count(event)
        except Exception:  # a metric must never break an execution
            self.handleError(record)

    def _count(self, event: LogEvent) -> None:
        if isinstance(event, CodeNodeExecuted):
            self.runs.labels(
                backend=event.backend,
                stage=event.decision.stage if event.decision is not None else "",
                role=event.role,
                outcome=event.outcome,
                kind=event.error_kind or "",
            ).inc()
            if event.usage is not None:
                self._usage(event.backend, event.usage)
        elif isinstance(event, ShadowComparison):
            self.comparisons.labels(verdict=event.verdict).inc()
        elif isinstance(event, FallbackToLegacy):
            self.fallbacks.inc()

    def _usage(self, backend: str, usage: dict[str, Any]) -> None:
        seconds = usage.get("sandboxSeconds")
        if isinstance(seconds, int | float) and seconds >= 0:
            self.sandbox_seconds.labels(backend=backend).inc(seconds)
        cost = usage.get("costUsd")
        if isinstance(cost, int | float) and cost >= 0:
            self.cost.labels(backend=backend).inc(cost)
