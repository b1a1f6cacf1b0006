"""What one execution leaves behind: the envelope its caller gets, and the one
`code_node_executed` event operators read (`turnout rollout report`, dashboards).

Both are built here and only here, by `Engine` once an execution has ended, whatever its
outcome, so that every path an execution takes reports it the same way. The event's fields
are defined in `turnout.log_events`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from turnout.contract import DecodedOutput, encode_json
from turnout.errors import CodeExecutionError, InfrastructureError, InternalError, TurnoutError
from turnout.log_events import CodeNodeExecuted, DecisionFields, Role
from turnout.logging import get_logger
from turnout.models import CodeNodeConfig, ExecutionResult
from turnout.redaction import scrub_envelope

if TYPE_CHECKING:
    from turnout.flags import Decision

__all__ = [
    "RunFacts",
    "build_envelope",
    "code_hash",
    "decision_fields",
    "log_failure",
    "log_success",
]

log = get_logger("turnout.execution")


def code_hash(config: CodeNodeConfig) -> str:
    """The node's identity in events and reports: a short hash of its code."""
    return hashlib.sha256(config.code.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def decision_fields(decision: Decision | None) -> DecisionFields | None:
    """The decision as events carry it (`Decision.to_log`), or None without one."""
    return None if decision is None else DecisionFields(**decision.to_log())


class RunFacts(NamedTuple):
    """What the `code_node_executed` event of one run says whatever its outcome."""

    execution_id: str
    environment: str
    backend: str
    role: Role
    config: CodeNodeConfig
    decision: DecisionFields | None
    labels: Mapping[str, str]
    payload_bytes: int | None = None

    def event(self, **outcome: Any) -> CodeNodeExecuted:
        """The event of this run with the fields of its outcome."""
        return CodeNodeExecuted(
            execution_id=self.execution_id,
            environment=self.environment,
            backend=self.backend,
            role=self.role,
            language=self.config.language,
            code_sha256=code_hash(self.config),
            decision=self.decision,
            labels=dict(self.labels),
            warnings=list(self.config.warnings) if self.config.warnings else None,
            payload_bytes=self.payload_bytes,
            **outcome,
        )

    def with_payload(self, payload_bytes: int) -> RunFacts:
        return self._replace(payload_bytes=payload_bytes)


def build_envelope(
    config: CodeNodeConfig,
    decoded: DecodedOutput,
    raw: ExecutionResult,
    backend_id: str,
    execution_id: str,
    started: float,
) -> dict[str, Any]:
    """The envelope the caller gets, scrubbed of any host secret the code got hold of."""
    metadata: dict[str, Any] = {
        "executionTime": round((time.perf_counter() - started) * 1000),
        "backend": backend_id,
        "executionId": execution_id,
        "outputChannel": decoded.channel,
    }
    if raw.sandbox_id:
        metadata["sandboxId"] = raw.sandbox_id
    for key, value in raw.usage.items():
        metadata.setdefault(key, value)  # what it cost (ExecutionResult.usage); never overrides
    if raw.stdout_truncated or raw.stderr_truncated:
        metadata["truncated"] = True
    if config.warnings:
        metadata["warnings"] = config.warnings
    envelope, leaked = scrub_envelope(
        {
            "language": config.language,
            "output": decoded.value,
            "stdout": raw.stdout,
            "stderr": raw.stderr,
            "logs": [
                *raw.stdout.splitlines(),
                *(f"ERROR: {line}" for line in raw.stderr.splitlines()),
            ],
            "metadata": metadata,
        }
    )
    if leaked:  # the code got hold of a host secret: say so (the value is gone)
        log.warning("secret_redacted_from_result", fields=leaked, execution_id=execution_id)
    return envelope


def log_success(
    facts: RunFacts, envelope: dict[str, Any], decoded: DecodedOutput, raw: ExecutionResult
) -> None:
    """The `code_node_executed` event of an execution that returned `envelope`."""
    log.emit(
        facts.event(
            outcome="ok",
            output_channel=decoded.channel,
            duration_ms=envelope["metadata"]["executionTime"],
            output_bytes=_output_bytes(raw, decoded),
            **_raw_fields(raw),
        )
    )


def log_failure(
    facts: RunFacts, exc: TurnoutError, raw: ExecutionResult | None, started: float
) -> None:
    """The `code_node_executed` event of an execution that ended in `exc`: a warning, or an
    error with the traceback when it is a bug (`InternalError`)."""
    kind: str | None = None
    if isinstance(exc, InternalError):
        kind = "internal"
    elif isinstance(exc, CodeExecutionError):
        kind = exc.kind
    elif isinstance(exc, InfrastructureError):
        kind = "infrastructure"
    event = facts.event(
        outcome="error",
        error_type=type(exc).__name__,
        error_kind=kind,
        retryable=exc.retryable,
        duration_ms=round((time.perf_counter() - started) * 1000),
        **(_raw_fields(raw) if raw is not None else {}),
    )
    if isinstance(exc, InternalError):
        # A bug: its traceback (and its cause's) is what someone needs to fix it.
        log.emit(event, level=logging.ERROR, exc_info=exc)
        return
    log.emit(event, level=logging.WARNING)


def _raw_fields(raw: ExecutionResult) -> dict[str, Any]:
    """What the backend's result says about the run; `usage` when it reported any (the
    rollout report sums it)."""
    return {
        "stdout_bytes": len(raw.stdout),
        "stderr_bytes": len(raw.stderr),
        "sandbox_id": raw.sandbox_id,
        "backend_timings_ms": raw.timings_ms,
        "usage": raw.usage or None,
    }


def _output_bytes(raw: ExecutionResult, decoded: DecodedOutput) -> int:
    """Size of the output's JSON, for the log, without encoding a large output again.

    The result file holds that JSON inside a fixed, small outcome object, so its size is
    the figure to within a few dozen bytes; only outputs read otherwise are encoded.
    """
    if raw.result is not None:
        return len(raw.result)
    return len(encode_json(decoded.value))
