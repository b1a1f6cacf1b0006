"""One run of one node on one backend: check, prepare, execute, decode, wrap, log.

The last step of `Engine.execute`, for every role a run can have (`direct`,
`authoritative`, `shadow`, `fallback`): whatever the outcome, the run leaves exactly one
`code_node_executed` event (`turnout.execution_record`), and any exception no layer
classified becomes an `InternalError` (a bug, never retried).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from turnout.contract import decode_result, payload_size, prepare_request
from turnout.errors import InternalError, TurnoutError, ValidationError
from turnout.execution_record import (
    RunFacts,
    build_envelope,
    decision_fields,
    log_failure,
    log_success,
)
from turnout.models import Capabilities, CodeNodeConfig, ExecutionResult
from turnout.tracing import span

if TYPE_CHECKING:
    from turnout.engine import Engine
    from turnout.flags import Decision
    from turnout.log_events import Role

__all__ = ["run_on_backend"]


async def run_on_backend(
    engine: Engine,
    backend_id: str,
    config: CodeNodeConfig,
    inputs: dict[str, Any],
    *,
    labels: dict[str, str],
    execution_id: str,
    role: Role,
    decision: Decision | None = None,
) -> dict[str, Any]:
    """One execution on one backend, in its span (`turnout.shadow` for a shadow run, else
    `turnout.backend`); the envelope as a dict, or one classified error."""
    with span("turnout.shadow" if role == "shadow" else "turnout.backend") as traced:
        traced.set(backend=backend_id, role=role)
        envelope = await _run(
            engine,
            backend_id,
            config,
            inputs,
            labels=labels,
            execution_id=execution_id,
            role=role,
            decision=decision,
        )
        traced.set(outcome="success")
        return envelope


async def _run(
    engine: Engine,
    backend_id: str,
    config: CodeNodeConfig,
    inputs: dict[str, Any],
    *,
    labels: dict[str, str],
    execution_id: str,
    role: Role,
    decision: Decision | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    facts = RunFacts(
        execution_id=execution_id,
        environment=engine.environment,
        backend=backend_id,
        role=role,
        config=config,
        decision=decision_fields(decision),
        labels=labels,
    )
    raw: ExecutionResult | None = None
    try:
        instance = engine.backend(backend_id)
        capabilities = instance.capabilities
        _check_capabilities(config, backend_id, capabilities)
        request = prepare_request(
            config,
            inputs,
            execution_id=execution_id,
            max_result_bytes=capabilities.max_result_bytes,
            labels=labels,
        )
        facts = facts.with_payload(payload_size(request))
        raw = await instance.execute(request)
        decoded = decode_result(
            raw,
            language=config.language,
            timeout_ms=config.timeout,
            max_result_bytes=capabilities.max_result_bytes,
            backend=backend_id,
        )
    except TurnoutError as exc:
        exc.add_warnings(config.warnings)
        log_failure(facts, exc, raw, started)
        raise
    except Exception as exc:  # a bug (turnout's or the plugin's): never retried
        internal = _internal_error(exc, backend_id)
        internal.add_warnings(config.warnings)
        log_failure(facts, internal, raw, started)
        raise internal from exc
    envelope = build_envelope(config, decoded, raw, backend_id, execution_id, started)
    log_success(facts, envelope, decoded, raw)
    return envelope


def _check_capabilities(config: CodeNodeConfig, backend_id: str, caps: Capabilities) -> None:
    if config.language not in caps.languages:
        raise ValidationError(
            "language",
            f"backend {backend_id!r} does not run {config.language}",
            ", ".join(sorted(caps.languages)),
        )
    if config.timeout > caps.max_timeout_ms:
        raise ValidationError(
            "timeout",
            f"{config.timeout} ms exceeds backend {backend_id!r}'s maximum",
            f"at most {caps.max_timeout_ms} ms",
        )


def _internal_error(exc: Exception, backend_id: str) -> InternalError:
    """The error for an exception no layer classified: a bug in turnout or in the backend's
    plugin (vendor and transport failures are translated by the plugin that calls them)."""
    error = InternalError(
        f"internal error while running on backend {backend_id!r} (a bug in turnout or in "
        f"the backend's plugin, not a reason to retry): {type(exc).__name__}: {exc}",
        backend=backend_id,
    )
    error.__cause__ = exc  # the traceback log_failure logs
    return error
