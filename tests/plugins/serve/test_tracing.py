"""Each execution is one OpenTelemetry span in the caller's trace, read back through the
SDK's in-memory exporter from the real app running a real local-subprocess node."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from turnout_serve.app import create_app
from turnout_serve.settings import ServiceSettings
from turnout_serve.tracing import SPAN_NAME

import turnout

from .support import node

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
FLAGS = {
    "schema_version": 1,
    "environments": {
        "trace-test": {"stage": "off", "backends": {"local-subprocess": {"prestart_python": 0}}}
    },
}
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def tracer_provider() -> None:
    """The SDK, installed once for the process (OpenTelemetry allows one global provider)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The real app over a real Client, called in process."""
    client = turnout.Client(FLAGS, "trace-test", keep_warm=False)
    app = create_app(client, ServiceSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://turnout") as connected:
        yield connected
    await client.aclose()


async def test_an_execution_is_a_span_in_the_caller_s_trace(
    http: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    """With a W3C traceparent, the execution's span joins that trace under that parent and
    says what the flags decided and which backend answered."""
    response = await http.post(
        "/v1/executions",
        json={"node": node("python", "return 1"), "context": {}},
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
    )
    assert response.status_code == 200
    [span] = [s for s in exporter.get_finished_spans() if s.name == SPAN_NAME]
    assert span.kind is SpanKind.SERVER
    assert span.context is not None
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_ID
    attributes = dict(span.attributes or {})
    assert attributes["turnout.stage"] == "off"
    assert attributes["turnout.backend.authoritative"] == "local-subprocess"
    assert attributes["turnout.backend"] == "local-subprocess"
    assert attributes["turnout.outcome"] == "success"
    assert span.status.status_code is StatusCode.UNSET


async def test_a_user_error_is_recorded_as_a_completed_execution(
    http: httpx.AsyncClient, exporter: InMemorySpanExporter
) -> None:
    """A node whose code fails gives a span with its outcome and kind, and no error
    status: the execution completed, the user's code failed."""
    response = await http.post(
        "/v1/executions", json={"node": node("python", "1/0"), "context": {}}
    )
    assert response.json()["error"]["kind"] == "runtime"
    [span] = [s for s in exporter.get_finished_spans() if s.name == SPAN_NAME]
    attributes = dict(span.attributes or {})
    assert (attributes["turnout.outcome"], attributes["turnout.error.kind"]) == (
        "code_error",
        "runtime",
    )
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None  # no traceparent: a trace of its own
