"""What one execution leaves behind: the envelope its caller gets, and the one
`code_node_executed` event operators read (`turnout rollout report`, dashboards).

Both are built here and only here, by `Engine` once an execution has ended, whatever its
outcome, so that every path an execution takes reports it the same way.
"""

from __future__ import annotations

import time
from typing import Any

from turnout.contract import DecodedOutput, encode_json
from turnout.errors import CodeExecutionError, InfrastructureError, InternalError, TurnoutError
from turnout.logging import get_logger
from turnout.models import CodeNodeConfig, ExecutionResult
from turnout.redaction import scrub_envelope

__all__ = ["build_envelope", "log_failure", "log_success"]

log = get_logger("turnout.execution")


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
    event: dict[str, Any],
    envelope: dict[str, Any],
    decoded: DecodedOutput,
    raw: ExecutionResult,
) -> None:
    """The `code_node_executed` event of an execution that returned `envelope`."""
    log.info(
        "code_node_executed",
        outcome="ok",
        output_channel=decoded.channel,
        duration_ms=envelope["metadata"]["executionTime"],
        output_bytes=_output_bytes(raw, decoded),
        stdout_bytes=len(raw.stdout),
        stderr_bytes=len(raw.stderr),
        sandbox_id=raw.sandbox_id,
        backend_timings_ms=raw.timings_ms,
        **_usage_fields(raw),
        **event,
    )


def log_failure(
    event: dict[str, Any], exc: TurnoutError, raw: ExecutionResult | None, started: float
) -> None:
    """The `code_node_executed` event of an execution that ended in `exc`: a warning, or an
    error with the traceback when it is a bug (`InternalError`)."""
    fields: dict[str, Any] = {
        "outcome": "error",
        "error_type": type(exc).__name__,
        "retryable": exc.retryable,
        "duration_ms": round((time.perf_counter() - started) * 1000),
    }
    if isinstance(exc, CodeExecutionError):
        fields["error_kind"] = exc.kind
    elif isinstance(exc, InfrastructureError):
        fields["error_kind"] = "infrastructure"
    if raw is not None:
        fields.update(
            stdout_bytes=len(raw.stdout),
            stderr_bytes=len(raw.stderr),
            sandbox_id=raw.sandbox_id,
            backend_timings_ms=raw.timings_ms,
            **_usage_fields(raw),
        )
    if isinstance(exc, InternalError):
        # A bug: its traceback (and its cause's) is what someone needs to fix it.
        log.error("code_node_executed", error_kind="internal", exc_info=exc, **fields, **event)
        return
    log.warning("code_node_executed", **fields, **event)


def _usage_fields(raw: ExecutionResult) -> dict[str, Any]:
    """`usage` for the event when the backend reported any (the rollout report sums it)."""
    return {"usage": raw.usage} if raw.usage else {}


def _output_bytes(raw: ExecutionResult, decoded: DecodedOutput) -> int:
    """Size of the output's JSON, for the log, without encoding a large output again.

    The result file holds that JSON inside a fixed, small outcome object, so its size is
    the figure to within a few dozen bytes; only outputs read otherwise are encoded.
    """
    if raw.result is not None:
        return len(raw.result)
    return len(encode_json(decoded.value))
