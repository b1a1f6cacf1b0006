"""One OpenTelemetry span per `POST /v1/executions`, a child of the caller's trace.

The caller's W3C `traceparent` (and `tracestate`) header makes the span part of the
worker's trace, so a slow workflow step shows where its code node spent the time. Only
`opentelemetry-api` is used: with no SDK configured by the deployment, the tracer is a
no-op and costs nothing; with one (and an exporter), spans go where it sends them.

The span is `turnout.execute` (kind SERVER) with the rollout decision and the result:
`turnout.environment`, `turnout.stage`, `turnout.backend.authoritative`,
`turnout.backend.candidate`, `turnout.language`, `turnout.backend` (what answered),
`turnout.outcome` (`success` or the error's class) and `turnout.error.kind`; an error
also sets the span's status. Ids are not attributes (they may identify a customer).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from turnout.client import Client
from turnout.errors import CodeExecutionError, TurnoutError
from turnout_serve.schema import ExecutionRequestBody

__all__ = ["SPAN_NAME", "execution_span", "record_error", "record_success"]

SPAN_NAME = "turnout.execute"
_tracer = trace.get_tracer("turnout.serve")


@contextmanager
def execution_span(
    client: Client, request: ExecutionRequestBody, headers: Mapping[str, str]
) -> Iterator[Span]:
    """The span of one execution, parented by the request's `traceparent` if it has one."""
    parent = propagate.extract(dict(headers))
    with _tracer.start_as_current_span(
        SPAN_NAME,
        context=parent,
        kind=SpanKind.SERVER,
        record_exception=False,
        set_status_on_exception=False,  # record_error decides: a user error is no failure
    ) as span:
        if span.is_recording():
            decision = client.explain(
                tenant_id=request.tenant_id,
                workflow_id=request.workflow_id,
                execution_id=request.execution_id,
                side_effect_free=request.node.side_effect_free,
            )
            span.set_attribute("turnout.environment", client.environment)
            span.set_attribute("turnout.stage", decision.stage)
            span.set_attribute("turnout.backend.authoritative", decision.authoritative)
            span.set_attribute("turnout.backend.candidate", decision.candidate or "")
            span.set_attribute("turnout.language", request.node.language)
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
