"""Helpers for the rollout report tests: log events as the engine and the shim write them."""

from __future__ import annotations

import json
from typing import Any

ENV = "prod"
LEGACY = "local-subprocess"
TARGET = "e2b"
T0 = "2026-01-10T08:00:00.000000Z"
NODE = "c0dec0dec0dec0de"
"""The code hash of the node the helpers' events are about."""


def decision(stage: str = "shadow", *, killed: bool = False) -> dict[str, Any]:
    """The `Decision.to_log()` fields of an execution in `stage` (legacy -> target)."""
    legacy_answers = stage in ("off", "shadow") and not killed
    candidate = None
    if not killed and stage == "shadow":
        candidate = TARGET
    elif not killed and stage == "live":
        candidate = LEGACY
    return {
        "stage": stage,
        "authoritative_backend": LEGACY if legacy_answers else TARGET,
        "candidate_backend": candidate,
        "shadow": candidate is not None,
        "fallback_allowed": stage == "live" and not killed,
        "decision_reason": "test",
        "bucket": 7,
        "bucketing_key": "tenant",
        "legacy_killed": killed,
    }


def executed(
    backend: str = LEGACY,
    role: str = "authoritative",
    *,
    stage: str | None = "shadow",
    environment: str = ENV,
    error: str | None = None,
    kind: str | None = None,
    timestamp: str = T0,
    **extra: Any,
) -> dict[str, Any]:
    """A `code_node_executed` event; `error` is the error type (None: outcome ok)."""
    event: dict[str, Any] = {
        "event": "code_node_executed",
        "level": "info" if error is None else "warning",
        "timestamp": timestamp,
        "execution_id": "e1",
        "environment": environment,
        "backend": backend,
        "role": role,
        "language": "python",
        "code_sha256": NODE,
        "outcome": "ok" if error is None else "error",
        "duration_ms": 12,
        **(decision(stage) if stage is not None else {}),
        **extra,
    }
    if error is not None:
        event.update(error_type=error, retryable=error == "InfrastructureError")
        if kind is not None:
            event["error_kind"] = kind
    return event


def compared(
    verdict: str = "match",
    *,
    stage: str = "shadow",
    environment: str = ENV,
    paths: tuple[str, ...] = (),
    ignored_count: int = 0,
    timestamp: str = T0,
    authoritative_outcome: str = "ok",
    candidate_outcome: str = "ok",
    **extra: Any,
) -> dict[str, Any]:
    """A `shadow_comparison` event whose mismatches are at `paths`."""
    return {
        "event": "shadow_comparison",
        "level": "info",
        "timestamp": timestamp,
        "execution_id": "e1",
        "environment": environment,
        "verdict": verdict,
        "mismatches": [
            {"path": path, "difference": "value", "authoritative": "int", "candidate": "int"}
            for path in paths
        ],
        "mismatch_count": len(paths),
        "ignored_count": ignored_count,
        "authoritative_outcome": authoritative_outcome,
        "candidate_outcome": candidate_outcome,
        "code_sha256": NODE,
        **decision(stage),
        **extra,
    }


def shim_event(name: str, *, stage: str = "live", environment: str = ENV) -> dict[str, Any]:
    """A `shadow_shed`, `shadow_failed` or `fallback_to_legacy` event."""
    return {
        "event": name,
        "level": "warning",
        "timestamp": T0,
        "execution_id": "e1",
        "environment": environment,
        "code_sha256": NODE,
        **decision(stage),
    }


def lines(*events: dict[str, Any]) -> list[str]:
    """The events as JSON log lines, as `configure_logging(json_lines=True)` writes them."""
    return [json.dumps(event, sort_keys=True) + "\n" for event in events]
