"""One environment's execution machinery: its flags, the registry and live backends.

An `Engine` is created per process and environment and reused for every execution: flags
are read and plugins discovered once, and each backend is constructed once, on first use.
`run` is the single path an execution takes below the public API: choose the backend,
prepare the program, execute, decode, build the envelope, log one event.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnout.backend import BackendSettings, ExecutionBackend
from turnout.contract import (
    DecodedOutput,
    decode_result,
    encode_json,
    payload_size,
    prepare_request,
)
from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    InfrastructureError,
    TurnoutError,
    ValidationError,
)
from turnout.flags import FlagFile, current_environment, load_flags
from turnout.logging import get_logger
from turnout.models import Capabilities, CodeNodeConfig, ExecutionResult
from turnout.registry import BackendRegistry, default_registry

__all__ = ["BackendDescription", "Engine"]

log = get_logger("turnout.execution")


@dataclass(frozen=True)
class BackendDescription:
    """A registered backend as `turnout backends` shows it."""

    id: str
    plugin: str
    description: str
    deprecated: bool
    capabilities: Capabilities | None
    unavailable_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        caps = self.capabilities.model_dump(mode="json") if self.capabilities else None
        if caps is not None:
            caps["languages"] = sorted(caps["languages"])
        return {
            "id": self.id,
            "plugin": self.plugin,
            "description": self.description,
            "deprecated": self.deprecated,
            "available": self.unavailable_reason is None,
            "unavailable_reason": self.unavailable_reason,
            "capabilities": caps,
        }


class Engine:
    """Runs code nodes for one environment; share one per process (see `codenode`)."""

    def __init__(
        self,
        environment: str | None = None,
        *,
        flags: FlagFile | None = None,
        flags_path: str | Path | None = None,
        registry: BackendRegistry | None = None,
    ) -> None:
        self.environment = current_environment(environment)
        self.flags = flags if flags is not None else load_flags(flags_path)
        self.environment_flags = self.flags.environment(self.environment)
        self.registry = registry if registry is not None else default_registry()
        if self.environment_flags.backend not in self.registry:
            raise ConfigurationError(
                f"{self.flags.source}: environments.{self.environment}.backend names "
                f"{self.environment_flags.backend!r}, which is not registered (registered: "
                f"{', '.join(self.registry.ids) or 'none'})"
            )
        self._backends: dict[str, ExecutionBackend] = {}

    def settings_for(self, backend_id: str) -> BackendSettings:
        return BackendSettings(
            environment=self.environment,
            options=self.environment_flags.options_for(backend_id),
            legacy_allowed=self.environment_flags.legacy_allowed,
        )

    def backend(self, backend_id: str | None = None) -> ExecutionBackend:
        """The live backend instance for `backend_id` (default: the environment's)."""
        chosen = backend_id or self.environment_flags.backend
        instance = self._backends.get(chosen)
        if instance is None:
            instance = self.registry.create(chosen, self.settings_for(chosen))
            self._backends[chosen] = instance
        return instance

    def describe_backends(self) -> list[BackendDescription]:
        descriptions = []
        for registered in self.registry:
            backend_type = registered.backend_type
            capabilities, reason = None, None
            try:
                capabilities = self.backend(registered.id).capabilities
            except TurnoutError as exc:
                reason = exc.message
            descriptions.append(
                BackendDescription(
                    id=registered.id,
                    plugin=registered.plugin,
                    description=getattr(backend_type, "description", ""),
                    deprecated=bool(getattr(backend_type, "deprecated", False)),
                    capabilities=capabilities,
                    unavailable_reason=reason,
                )
            )
        return descriptions

    async def run(
        self,
        config: CodeNodeConfig,
        inputs: dict[str, Any],
        *,
        backend: str | None = None,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Execute once and return the result envelope, or raise one classified error."""
        started = time.perf_counter()
        execution_id = uuid.uuid4().hex
        backend_id = backend or self.environment_flags.backend
        event: dict[str, Any] = {
            "execution_id": execution_id,
            "environment": self.environment,
            "backend": backend_id,
            "language": config.language,
            "code_sha256": hashlib.sha256(config.code.encode("utf-8", "surrogatepass")).hexdigest()[
                :16
            ],
            **{f"label_{key}": value for key, value in (labels or {}).items()},
        }
        raw: ExecutionResult | None = None
        try:
            instance = self.backend(backend_id)
            capabilities = instance.capabilities
            _check_capabilities(config, backend_id, capabilities)
            request = prepare_request(
                config,
                inputs,
                execution_id=execution_id,
                max_result_bytes=capabilities.max_result_bytes,
                labels=labels,
            )
            event["payload_bytes"] = payload_size(request)
            raw = await _execute(instance, backend_id, request)
            decoded = decode_result(
                raw,
                language=config.language,
                timeout_ms=config.timeout,
                max_result_bytes=capabilities.max_result_bytes,
                backend=backend_id,
            )
        except TurnoutError as exc:
            _log_failure(event, exc, raw, started)
            raise
        envelope = _envelope(config, decoded, raw, backend_id, execution_id, started)
        log.info(
            "code_node_executed",
            outcome="ok",
            output_channel=decoded.channel,
            duration_ms=envelope["metadata"]["executionTime"],
            output_bytes=len(encode_json(decoded.value)),
            stdout_bytes=len(raw.stdout),
            stderr_bytes=len(raw.stderr),
            sandbox_id=raw.sandbox_id,
            backend_timings_ms=raw.timings_ms,
            **event,
        )
        return envelope

    async def aclose(self) -> None:
        """Close every backend this engine constructed."""
        backends, self._backends = list(self._backends.values()), {}
        for instance in backends:
            await instance.aclose()


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


async def _execute(instance: ExecutionBackend, backend_id: str, request: Any) -> ExecutionResult:
    """Call the backend; anything it raises that is not a turnout error is wrapped once."""
    try:
        return await instance.execute(request)
    except (TurnoutError, asyncio.CancelledError):
        raise
    except Exception as exc:
        raise InfrastructureError(
            f"backend {backend_id!r} failed unexpectedly: {type(exc).__name__}: {exc}",
            retryable=False,
            started=True,
            backend=backend_id,
        ) from exc


def _envelope(
    config: CodeNodeConfig,
    decoded: DecodedOutput,
    raw: ExecutionResult,
    backend_id: str,
    execution_id: str,
    started: float,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "executionTime": round((time.perf_counter() - started) * 1000),
        "backend": backend_id,
        "executionId": execution_id,
        "outputChannel": decoded.channel,
    }
    if raw.sandbox_id:
        metadata["sandboxId"] = raw.sandbox_id
    if raw.stdout_truncated or raw.stderr_truncated:
        metadata["truncated"] = True
    if config.warnings:
        metadata["warnings"] = config.warnings
    return {
        "language": config.language,
        "output": decoded.value,
        "stdout": raw.stdout,
        "stderr": raw.stderr,
        "logs": [*raw.stdout.splitlines(), *(f"ERROR: {line}" for line in raw.stderr.splitlines())],
        "metadata": metadata,
    }


def _log_failure(
    event: dict[str, Any], exc: TurnoutError, raw: ExecutionResult | None, started: float
) -> None:
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
        )
    log.warning("code_node_executed", **fields, **event)
