"""The spans of a library execution (`turnout.tracing`), read back through the SDK's
in-memory exporter from a real local-subprocess run; and tracing that stays off (and out
of the process) until the application takes up OpenTelemetry."""

from __future__ import annotations

import sys

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import turnout
from turnout import tracing
from turnout.errors import CodeExecutionError

from .test_init import RUN_ON_LOCAL_SUBPROCESS, modules_after
from .tracing_support import attributes, children, exporter, named

__all__ = ["exporter"]

FLAGS = {
    "schema_version": 1,
    "environments": {
        "trace-test": {"stage": "off", "backends": {"local-subprocess": {"prestart_python": 0}}}
    },
}


async def test_a_client_execution_is_a_tree_of_spans(exporter: InMemorySpanExporter) -> None:
    """execute -> decision and backend -> the sandbox's run, with what was decided and
    which backend answered, all in one trace."""
    async with turnout.Client(FLAGS, "trace-test", keep_warm=False) as client:
        await client.execute({"language": "python", "code": "return 1"}, {}, tenant_id="t-1")
    spans = exporter.get_finished_spans()
    [root] = named(spans, "turnout.execute")
    assert root.parent is None
    assert children(spans, root) == ["turnout.backend", "turnout.decision"]
    [decision] = named(spans, "turnout.decision")
    assert attributes(decision)["turnout.stage"] == "off"
    assert attributes(decision)["turnout.backend.authoritative"] == "local-subprocess"
    [backend] = named(spans, "turnout.backend")
    assert children(spans, backend) == ["turnout.sandbox.run"]
    assert attributes(backend)["turnout.role"] == "authoritative"
    assert attributes(root)["turnout.backend"] == "local-subprocess"
    assert attributes(root)["turnout.outcome"] == "success"
    assert {span.context.trace_id for span in spans if span.context} == {root.context.trace_id}
    assert "tenant" not in str([attributes(span) for span in spans])  # no caller's ids


async def test_a_user_error_is_a_completed_execution(exporter: InMemorySpanExporter) -> None:
    """A node whose code raises gives its kind on the spans and no error status."""
    async with turnout.Client(FLAGS, "trace-test", keep_warm=False) as client:
        with pytest.raises(CodeExecutionError):
            await client.execute({"language": "python", "code": "1/0"}, {})
    [root] = named(exporter.get_finished_spans(), "turnout.execute")
    assert attributes(root)["turnout.error.kind"] == "runtime"
    assert root.status.status_code is StatusCode.UNSET


def test_tracing_stays_out_of_a_process_that_never_took_up_opentelemetry() -> None:
    """`turnout run` on local-subprocess imports no OpenTelemetry (it costs tens of ms)
    although the API is installed: spans are on only once the application imported it."""
    assert not {name for name in modules_after(RUN_ON_LOCAL_SUBPROCESS) if "opentelemetry" in name}


def test_spans_are_no_ops_when_the_api_cannot_be_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without opentelemetry-api a span records nothing and the code inside still runs."""
    monkeypatch.setattr(tracing, "_tracer", None)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", None)
    with tracing.span("turnout.execute") as traced:
        traced.set(outcome="success")
        ran = True
    assert ran
    assert not traced.recording
