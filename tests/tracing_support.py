"""The OpenTelemetry SDK for the tests that read spans back: one tracer provider per
process (OpenTelemetry allows one global provider), with one in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

EXPORTER = InMemorySpanExporter()


def install_provider() -> None:
    """Install the SDK with `EXPORTER`, once for the process."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """The exporter, empty at the start of the test and cleared after it."""
    install_provider()
    EXPORTER.clear()
    yield EXPORTER
    EXPORTER.clear()


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[str]:
    """The names of `parent`'s direct children, sorted."""
    assert parent.context is not None
    return sorted(
        span.name
        for span in spans
        if span.parent is not None and span.parent.span_id == parent.context.span_id
    )


def attributes(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})
