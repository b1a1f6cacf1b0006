"""The spans of a library execution on e2b, read back through the SDK's in-memory exporter:
the sandbox's create, run and kill under the backend's span, and the shadow run as its own
span, from real runs at the local E2B-compatible server."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import turnout

from ...tracing_support import attributes, children, exporter, named

__all__ = ["exporter"]

pytestmark = pytest.mark.usefixtures("e2b_url")


def flags(stage: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "environments": {
            "trace-test": {
                "legacy_backend": "local-subprocess",
                "target_backend": "e2b",
                "stage": stage,
                "backends": {"local-subprocess": {"prestart_python": 0}},
            }
        },
    }


async def test_an_e2b_execution_has_its_sandbox_s_create_run_and_kill(
    exporter: InMemorySpanExporter,
) -> None:
    """On e2b the backend's span holds the sandbox's create, run and kill (the kill,
    finished in the background, is there once the client is closed)."""
    async with turnout.Client(flags("rampdown"), "trace-test", keep_warm=False) as client:
        envelope = await client.execute({"language": "python", "code": "return 2"}, {})
    spans = exporter.get_finished_spans()
    [root] = named(spans, "turnout.execute")
    assert attributes(root)["turnout.backend"] == "e2b"
    [backend] = named(spans, "turnout.backend")
    assert children(spans, root) == ["turnout.backend", "turnout.decision"]
    assert children(spans, backend) == [
        "turnout.sandbox.create",
        "turnout.sandbox.kill",
        "turnout.sandbox.run",
    ]
    sandbox_ids = {
        attributes(span)["turnout.sandbox.id"]
        for span in spans
        if span.name.startswith("turnout.sandbox.")
    }
    assert sandbox_ids == {envelope.metadata.sandbox_id}
    [kill] = named(spans, "turnout.sandbox.kill")
    assert attributes(kill)["turnout.outcome"] == "success"


async def test_a_shadow_run_is_its_own_span(exporter: InMemorySpanExporter) -> None:
    """In shadow, the candidate's run is a `turnout.shadow` span of the execution, with the
    e2b sandbox's spans under it, beside the authoritative local-subprocess run."""
    node = {"language": "python", "code": "return 3", "sideEffectFree": True}
    async with turnout.Client(flags("shadow"), "trace-test", keep_warm=False) as client:
        await client.execute(node, {})
    spans = exporter.get_finished_spans()
    [root] = named(spans, "turnout.execute")
    assert children(spans, root) == ["turnout.backend", "turnout.decision", "turnout.shadow"]
    [shadow] = named(spans, "turnout.shadow")
    assert (attributes(shadow)["turnout.backend"], attributes(shadow)["turnout.role"]) == (
        "e2b",
        "shadow",
    )
    assert children(spans, shadow) == [
        "turnout.sandbox.create",
        "turnout.sandbox.kill",
        "turnout.sandbox.run",
    ]
    [backend] = named(spans, "turnout.backend")
    assert attributes(backend)["turnout.backend"] == "local-subprocess"
    assert children(spans, backend) == ["turnout.sandbox.run"]
