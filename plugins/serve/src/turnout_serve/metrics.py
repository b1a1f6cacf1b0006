"""`GET /metrics`: the service's counters in the Prometheus text format.

Each app has its own registry (not prometheus-client's global one), so two apps in one
process (tests) never share counts. What is counted:

- `turnout_executions_total{backend, outcome, kind}`: every execution that reached the
  engine; `outcome` is `success`, `code_error`, `infrastructure_error`,
  `validation_error`, `configuration_error`, `internal_error`, `cancelled` (the client
  left) or `deadline`; `kind` is the error's `kind` (empty on success);
- `turnout_execution_seconds{backend}`: wall time of each execution through the engine;
- `turnout_executions_in_flight`: executions holding a slot now;
- `turnout_sandboxes_alive{backend}`: sandboxes (e2b) and confined processes
  (local-subprocess, pre-started ones included) this process created and has not killed
  yet, read at each scrape from `turnout.tracing.sandboxes_alive`; every backend the
  service can run has a series, 0 when none is alive;
- `turnout_requests_rejected_total{reason}`: requests refused at the gate (`unauthorized`,
  `overloaded`, `draining`, `not_json`, `too_large`, `slow_body`);
- and what the engine's events say (`turnout_serve.events`): runs by stage and role,
  shadow verdicts, fallbacks, sandbox time and cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from turnout.tracing import sandboxes_alive
from turnout_serve.events import EngineEventMetrics

__all__ = ["CONTENT_TYPE", "ServiceMetrics"]

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class ServiceMetrics:
    """The collectors of one app, in their own registry."""

    def __init__(self, backends: Callable[[], Iterable[str]] = tuple) -> None:
        """`backends`: the ids that always have a `turnout_sandboxes_alive` series (asked
        at each scrape)."""
        self.registry = CollectorRegistry()
        self.registry.register(SandboxesAlive(backends))
        self.executions = Counter(
            "turnout_executions",
            "Executions that reached the engine, by backend, outcome and error kind.",
            ("backend", "outcome", "kind"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "turnout_execution_seconds",
            "Wall time of each execution through the engine.",
            ("backend",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "turnout_executions_in_flight",
            "Executions holding an execution slot.",
            registry=self.registry,
        )
        self.rejected = Counter(
            "turnout_requests_rejected",
            "Requests refused before any execution, by reason.",
            ("reason",),
            registry=self.registry,
        )
        self.engine = EngineEventMetrics(self.registry)
        """Counts of the engine's events (stages, shadows, fallbacks, cost): see
        `turnout_serve.events`; attached to the `turnout` logger while the app runs."""

    def render(self) -> bytes:
        """The exposition text of every collector."""
        return generate_latest(self.registry)


class SandboxesAlive(Collector):
    """`turnout_sandboxes_alive{backend}`, read from the backends' count at each scrape."""

    def __init__(self, backends: Callable[[], Iterable[str]]) -> None:
        self.backends = backends

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "turnout_sandboxes_alive",
            "Sandboxes (or confined processes) created and not yet killed, by backend.",
            labels=("backend",),
        )
        alive = dict.fromkeys(self.backends(), 0)
        alive.update(sandboxes_alive())
        for backend, count in sorted(alive.items()):
            family.add_metric((backend,), count)
        yield family
