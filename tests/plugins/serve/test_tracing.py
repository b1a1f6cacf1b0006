"""Each request is a span in the caller's trace, with the Client's execution spans under
it, read back through the SDK's in-memory exporter from the real app running a real
local-subprocess node."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from turnout_serve.app import create_app
from turnout_serve.settings import ServiceSettings
from turnout_serve.tracing import SPAN_NAME

import turnout

from ...tracing_support import attributes, children, exporter, named
from .support import node

__all__ = ["exporter"]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
FLAGS = {
    "schema_version": 1,
    "environments": {
        "trace-test": {"stage": "off", "backends": {"local-subprocess": {"prestart_python": 0}}}
    },
}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The real app over a real Client, called in process."""
    client = turnout.Client(FLAGS, "trace-test", keep_warm=False)
    app = create_app(client, ServiceSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://turnout") as connected:
        yield connected
    await client.aclose()


async def test_a_traceparent_parents_the_execution_s_whole_tree(
    http: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    """With a W3C traceparent, the request's span joins that trace under that parent, and
    the execution's spans (decision, backend, the sandbox's run) hang below it."""
    response = await http.post(
        "/v1/executions",
        json={"node": node("python", "return 1"), "context": {}},
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
    )
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    [request] = named(spans, SPAN_NAME)
    assert request.kind is SpanKind.SERVER
    assert request.parent is not None
    assert format(request.parent.span_id, "016x") == PARENT_ID
    assert {format(span.context.trace_id, "032x") for span in spans if span.context} == {TRACE_ID}
    assert children(spans, request) == ["turnout.execute"]
    [execution] = named(spans, "turnout.execute")
    assert children(spans, execution) == ["turnout.backend", "turnout.decision"]
    [backend] = named(spans, "turnout.backend")
    assert children(spans, backend) == ["turnout.sandbox.run"]
    assert attributes(request)["turnout.backend"] == "local-subprocess"
    assert attributes(request)["turnout.outcome"] == "success"
    assert attributes(request)["http.route"] == "/v1/executions"
    assert request.status.status_code is StatusCode.UNSET


async def test_a_user_error_is_recorded_as_a_completed_execution(
    http: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    """A node whose code fails gives a span with its outcome and kind, and no error
    status: the execution completed, the user's code failed."""
    response = await http.post(
        "/v1/executions", json={"node": node("python", "1/0"), "context": {}}
    )
    assert response.json()["error"]["kind"] == "runtime"
    [span] = named(exporter.get_finished_spans(), SPAN_NAME)
    assert (attributes(span)["turnout.outcome"], attributes(span)["turnout.error.kind"]) == (
        "code_error",
        "runtime",
    )
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None  # no traceparent: a trace of its own
