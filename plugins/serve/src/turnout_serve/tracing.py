"""The span of one `POST /v1/executions`, a child of the caller's trace.

The caller's W3C `traceparent` (and `tracestate`) header makes the span part of the
worker's trace, so a slow workflow step shows where its code node spent the time. Inside
it, the `Client` adds the execution's own spans (`turnout.tracing`: `turnout.execute`, the
decision, each backend run, the sandbox's create, run and kill, the shadow run). Only
`opentelemetry-api` is used: with no SDK configured by the deployment, every span is a
no-op; with one (and an exporter), spans go where it sends them. Importing this module
imports `opentelemetry.trace`, which is what turns the library's spans on in the service.

The span is `turnout.request` (kind SERVER) with `http.request.method`, `http.route`,
`turnout.backend` (what answered), `turnout.outcome` (`success` or the error's class) and
`turnout.error.kind`; an error other than the user's code failing sets the span's status.
Ids are not attributes (they may identify a customer).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from turnout.errors import CodeExecutionError, TurnoutError
from turnout_serve.gate import EXECUTIONS_PATH

__all__ = ["SPAN_NAME", "execution_span", "record_error", "record_success"]

SPAN_NAME = "turnout.request"
_tracer = trace.get_tracer("turnout.serve")


@contextmanager
def execution_span(headers: Mapping[str, str]) -> Iterator[Span]:
    """The span of one request, parented by its `traceparent` if it has one."""
    parent = propagate.extract(dict(headers))
    with _tracer.start_as_current_span(
        SPAN_NAME,
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "POST", "http.route": EXECUTIONS_PATH},
        record_exception=False,
        set_status_on_exception=False,  # record_error decides: a user error is no failure
    ) as span:
        yield span


def record_success(span: Span, backend: str) -> None:
    span.set_attribute("turnout.backend", backend)
    span.set_attribute("turnout.outcome", "success")


def record_error(span: Span, error: TurnoutError | None, outcome: str) -> None:
    """`error` (None for a cancelled execution) on the span; a user-code error is a
    completed execution, so it leaves the span's status unset."""
    span.set_attribute("turnout.outcome", outcome)
    if error is None:
        span.set_status(Status(StatusCode.ERROR, outcome))
        return
    kind = error.to_dict().get("kind")
    if kind:
        span.set_attribute("turnout.error.kind", str(kind))
    backend = getattr(error, "backend", None)
    if backend:
        span.set_attribute("turnout.backend", str(backend))
    if not isinstance(error, CodeExecutionError):
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
