"""Helpers for the audit's tests: a target with known capabilities, and the test nodes.

The nodes under `nodes/` are small realistic code nodes written for these tests, one JSON
line each, with ids `<language>/<finding type>/<case>`: `positive` shows the finding,
`negative` is the same kind of node without the problem.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from turnout_e2b.packages import NODE_BUILTINS

from turnout.audit.audit import audit_node
from turnout.audit.findings import NodeAudit
from turnout.audit.loading import NodeSource, load_nodes
from turnout.audit.target import AuditTarget
from turnout.backend import BackendSettings
from turnout.conformance.backends import BackendUnderTest
from turnout.models import Capabilities, ExecutionRequest, ExecutionResult

NODES = Path(__file__).parent / "nodes"
STDLIB = frozenset(sys.stdlib_module_names)


def capabilities(**changes: Any) -> Capabilities:
    """A sandbox-like target: both languages, network on, no host environment, no
    lasting files; Python's standard library plus requests, Node's built-ins."""
    fields: dict[str, Any] = {
        "languages": frozenset({"python", "javascript"}),
        "isolation": "microvm",
        "network_access": True,
        "max_timeout_ms": 300_000,
        "max_output_bytes": 1 << 20,
        "max_result_bytes": 1 << 26,
        "memory_limit_mb": None,
        "memory_enforcement": "sandbox",
        "host_environment_visible": False,
        "persistent_filesystem": False,
        "packages": {"python": STDLIB | {"requests"}, "javascript": NODE_BUILTINS},
    }
    fields.update(changes)
    return Capabilities(**fields)


def target(
    target_caps: Capabilities | None = None, legacy_caps: Capabilities | None = None
) -> AuditTarget:
    """An audit target named e2b, with a legacy backend that also has pandas."""
    legacy = legacy_caps or capabilities(
        isolation="process",
        packages={"python": STDLIB | {"requests", "pandas"}, "javascript": NODE_BUILTINS},
    )
    return AuditTarget(
        "production",
        BackendUnderTest("e2b", "e2b", False, "test", target_caps or capabilities()),
        BackendUnderTest("local-subprocess", "local-subprocess", True, "local", legacy),
    )


def corpus_nodes() -> dict[str, NodeSource]:
    """Every test node by id."""
    return {node.id: node for node in load_nodes([NODES]).nodes}


def audited(node_id: str, on: AuditTarget | None = None) -> NodeAudit:
    """The audit of one test node against `on` (default: `target()`)."""
    return audit_node(corpus_nodes()[node_id], on or target())


def source(config: dict[str, Any], context: dict[str, Any] | None = None) -> NodeSource:
    """A node written inline."""
    return NodeSource("inline", "wf-inline", "<test>", config, context)


_LAUNCHER = re.compile(r'__turnout_run\("([A-Za-z0-9+/=]+)"')


def scripted_backend(backend_id: str, script: Mapping[str, dict[str, Any]]) -> type:
    """A backend that runs nothing: for a node whose code contains a key of `script`, it
    answers that runtime outcome (`{"ok": true, "channel": "return", "value": ...}` or
    `{"ok": false, "kind": ..., "name": ..., "message": ...}`), else `null`."""

    class ScriptedBackend:
        id = backend_id
        deprecated = False
        description = "scripted backend for the audit's tests"

        def __init__(self, settings: BackendSettings) -> None:
            self.settings = settings

        @property
        def capabilities(self) -> Capabilities:
            return capabilities()

        async def execute(self, request: ExecutionRequest) -> ExecutionResult:
            payload = json.loads(base64.b64decode(_LAUNCHER.findall(request.program)[-1]))
            code = payload.get("code") or payload.get("body") or ""
            outcome = next(
                (answer for marker, answer in script.items() if marker in code),
                {"ok": True, "channel": "return", "value": None},
            )
            return ExecutionResult(result=json.dumps(outcome).encode(), exit_code=0)

        async def aclose(self) -> None:
            return None

    return ScriptedBackend
