"""OpenTelemetry spans of an execution, and the count of sandboxes alive per backend.

The span tree of one execution (docs/service.md lists the attributes):

    turnout.execute                  Engine.execute: every Client, execute_code_node, CLI run
    ├── turnout.decision             what the flags decided (stage, backends, why)
    ├── turnout.backend              one run on one backend (role authoritative/fallback/direct)
    │   ├── turnout.sandbox.create   e2b: the create call(s), retries included
    │   ├── turnout.sandbox.run      the program, up to its result (local-subprocess: the
    │   │                            whole confined process, spawn to clean-up)
    │   └── turnout.sandbox.kill     e2b: the kill, in the background after the result
    └── turnout.shadow               the candidate's run, in the background (its own
        └── turnout.sandbox.*        sandbox spans below it)

Why optional: turnout does not depend on `opentelemetry-api`, and importing it costs tens
of milliseconds (hundreds, cold) that `turnout run` must not pay. So spans are recorded
only once the process has imported `opentelemetry.trace` itself, which every way of
configuring a tracer provider does (`trace.set_tracer_provider`, `opentelemetry-instrument`,
`turnout serve`), or names a provider in `OTEL_PYTHON_TRACER_PROVIDER`. Otherwise, or when
the API is not installed, every span here is a no-op that costs a dictionary look-up.
With the API but no SDK configured, OpenTelemetry's own tracer is a no-op too.

Spans carry no ids of the caller's (tenant, workflow: they may identify a customer), no
code and no output; an error sets the span's status except a user-code error, which is a
completed execution.

The live-sandbox count (`sandbox_created`, `sandbox_killed`, `sandboxes_alive`) is kept by
the backends at the same points as their create and kill spans, for the service's gauge.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = [
    "AttributeValue",
    "Span",
    "sandbox_created",
    "sandbox_killed",
    "sandboxes_alive",
    "span",
]

AttributeValue = str | bool | int | float
_PROVIDER_VARIABLE = "OTEL_PYTHON_TRACER_PROVIDER"
_tracer: Any = None


class Span:
    """A span being recorded (or a no-op one): attributes and the outcome of what it covers."""

    __slots__ = ("_span",)

    def __init__(self, otel_span: Any = None) -> None:
        self._span = otel_span

    @property
    def recording(self) -> bool:
        return self._span is not None and bool(self._span.is_recording())

    def set(self, **attributes: AttributeValue | None) -> None:
        """Set `turnout.<name>` attributes (dots for underscores); None values are skipped."""
        if not self.recording:
            return
        for name, value in attributes.items():
            if value is not None:
                self._span.set_attribute(f"turnout.{name.replace('__', '.')}", value)

    def fail(self, error: BaseException) -> None:
        """Record how the covered work ended: `turnout.outcome` (the error's class),
        `turnout.error.kind`, and an error status unless the user's code failed."""
        if not self.recording:
            return
        from turnout.errors import CodeExecutionError, InfrastructureError, TurnoutError

        self.set(outcome=type(error).__name__)
        if isinstance(error, CodeExecutionError):
            self.set(error__kind=error.kind)
            return
        if isinstance(error, InfrastructureError):
            self.set(error__kind="infrastructure", error__retryable=error.retryable)
        elif isinstance(error, TurnoutError):
            self.set(error__retryable=error.retryable)
        from opentelemetry.trace import Status, StatusCode

        self._span.set_status(Status(StatusCode.ERROR, type(error).__name__))


def _active_tracer() -> Any:
    """OpenTelemetry's tracer for turnout, or None while the process has not taken up
    OpenTelemetry (module docstring) or cannot import it."""
    global _tracer
    if _tracer is not None:
        return _tracer
    if "opentelemetry.trace" not in sys.modules and not os.environ.get(_PROVIDER_VARIABLE):
        return None
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    _tracer = trace.get_tracer("turnout")  # a proxy until a provider is set: safe to keep
    return _tracer


@contextmanager
def span(
    name: str, *, server: bool = False, parent: Mapping[str, str] | None = None
) -> Iterator[Span]:
    """A span named `name`, the current one inside (a no-op when tracing is off).

    `parent`: W3C trace-context headers (`traceparent`, `tracestate`) to join the caller's
    trace instead of the current span's; `server`: the span of a request received. An
    exception leaving the block is recorded with `Span.fail` and re-raised; cancellation
    is recorded as the outcome `cancelled`.
    """
    tracer = _active_tracer()
    if tracer is None:
        yield Span()
        return
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind, Status, StatusCode

    context = propagate.extract(dict(parent)) if parent is not None else None
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=SpanKind.SERVER if server else SpanKind.INTERNAL,
        record_exception=False,  # a message may quote the user's code or output
        set_status_on_exception=False,  # Span.fail decides: a user error is no failure
    ) as otel_span:
        traced = Span(otel_span)
        try:
            yield traced
        except Exception as error:
            traced.fail(error)
            raise
        except BaseException:
            traced.set(outcome="cancelled")
            otel_span.set_status(Status(StatusCode.ERROR, "cancelled"))
            raise


_alive: dict[str, int] = {}
_alive_lock = threading.Lock()


def sandbox_created(backend: str) -> None:
    """A sandbox (or confined process) of `backend` now exists."""
    with _alive_lock:
        _alive[backend] = _alive.get(backend, 0) + 1


def sandbox_killed(backend: str) -> None:
    """A sandbox of `backend` counted by `sandbox_created` is gone."""
    with _alive_lock:
        _alive[backend] = max(0, _alive.get(backend, 0) - 1)


def sandboxes_alive() -> dict[str, int]:
    """Backend id -> sandboxes this process created and has not killed yet."""
    with _alive_lock:
        return dict(_alive)
