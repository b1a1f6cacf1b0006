"""One environment's execution machinery: its flags, the registry and live backends.

An `Engine` is created per process and environment and reused for every execution: flags
are read and plugins discovered once, and each backend is constructed on first use and
rebuilt only when a flag reload changes its options (`turnout.instances`).
`run` is the single path an execution takes below the public API: choose the backend,
prepare the program, execute, decode, build the envelope, log one event.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from turnout.backend import BackendSettings, ExecutionBackend
from turnout.backend_descriptions import BackendDescription, describe_backends
from turnout.contract import (
    decode_result,
    payload_size,
    prepare_request,
)
from turnout.errors import (
    ConfigurationError,
    InternalError,
    TurnoutError,
    ValidationError,
)
from turnout.execution_record import build_envelope, log_failure, log_success
from turnout.flags import (
    DEFAULT_CHECK_INTERVAL,
    Decision,
    EnvironmentFlags,
    FlagEvaluator,
    FlagFile,
    FlagReloader,
    check_backend_options,
    current_environment,
)
from turnout.instances import BackendInstances
from turnout.logging import get_logger, install_stdlib_redaction
from turnout.migration import DEFAULT_SHADOW_BUDGET, ShadowRunner, may_fall_back
from turnout.models import Capabilities, CodeNodeConfig, ExecutionResult, parse_labels
from turnout.registry import BackendRegistry, default_registry
from turnout.shutdown import InFlight
from turnout.tracing import span

__all__ = [
    "ROLLOUT_ID_LABELS",
    "Engine",
    "code_hash",
    "rollout_labels",
]

log = get_logger("turnout.execution")


class Engine:
    """Runs code nodes for one environment; share one per process (see `codenode`)."""

    def __init__(
        self,
        environment: str | None = None,
        *,
        flags: FlagFile | FlagReloader | None = None,
        flags_path: str | Path | None = None,
        registry: BackendRegistry | None = None,
        check_interval: float = DEFAULT_CHECK_INTERVAL,
        shadow_budget: int = DEFAULT_SHADOW_BUDGET,
        keep_warm: bool = True,
    ) -> None:
        self.environment = current_environment(environment)
        self.keep_warm = keep_warm  # BackendSettings.keep_warm of every backend built
        self.registry = registry if registry is not None else default_registry()
        self._instances = BackendInstances(self.registry, self.environment, keep_warm=keep_warm)
        source: FlagFile | FlagReloader = (
            flags
            if flags is not None
            else FlagReloader(
                flags_path,
                check_interval=check_interval,
                known_backends=self.registry.known_ids,
                option_models=self.registry.option_models,
                on_change=self._instances.apply,
            )
        )
        if isinstance(source, FlagReloader):
            source.attach(self._instances.apply)  # a reload rebuilds what it changes
        check_backend_options(_current(source), self.registry.option_models)
        self.evaluator = FlagEvaluator(source)
        self.evaluator.flags.environment(self.environment)  # an unknown environment fails now
        self.shadow = ShadowRunner(shadow_budget)
        self.in_flight = InFlight()  # what turnout.shutdown interrupts
        install_stdlib_redaction()  # the HTTP and SDK loggers under backends, in any set-up

    @property
    def flags(self) -> FlagFile:
        """The flags in force (reloaded when the file changes)."""
        return self.evaluator.flags

    @property
    def environment_flags(self) -> EnvironmentFlags:
        return self.flags.environment(self.environment)

    def settings_for(self, backend_id: str) -> BackendSettings:
        """What backend `backend_id` is built with under the flags in force."""
        return self.environment_flags.backend_settings(backend_id, keep_warm=self.keep_warm)

    def backend(self, backend_id: str | None = None) -> ExecutionBackend:
        """The live backend instance for `backend_id` (default: the environment's): built
        on first use, rebuilt when a reload changes its options (`turnout.instances`)."""
        flags = self.environment_flags  # the flags in force, reloaded when due
        chosen = backend_id or flags.backend
        refusal = flags.legacy_refusal
        if chosen == flags.legacy_backend and refusal is not None:
            # A reload that made legacy unloadable closed its instance (`turnout.instances`);
            # an explicit call must not build it again, and says which setting decided.
            raise ConfigurationError(
                f"backend {chosen!r} is environment {self.environment!r}'s legacy backend, "
                f"and legacy may not load there: {refusal} in {self.flags.source}; run on "
                f"{flags.target_backend!r}, or change that setting to bring legacy back"
            )
        return self._instances.get(chosen, lambda: self.settings_for(chosen))

    def instrument(self, wrap: Callable[[ExecutionBackend], ExecutionBackend]) -> None:
        """Route every execution through `wrap(instance)`: the instances already built and
        every one built later. For tools that observe backends (the conformance suite
        reads each result's provisioning time); `wrap` must return a full backend."""
        self._instances.instrument(wrap)

    def describe_backends(self) -> list[BackendDescription]:
        """Every backend a plugin registered, as `turnout backends` shows it (see
        `turnout.backend_descriptions`)."""
        return describe_backends(self.registry, self.backend)

    async def run(
        self,
        config: CodeNodeConfig,
        inputs: dict[str, Any],
        *,
        backend: str | None = None,
        labels: Mapping[str, str] | None = None,
        tenant_id: str | None = None,
        workflow_id: str | None = None,
        execution_id: str | None = None,
    ) -> dict[str, Any]:
        """Execute once and return the result envelope, or raise one classified error.

        With `backend`, run exactly there (tests, conformance, comparisons). Otherwise the
        flags decide per execution: which backend is authoritative, whether a shadow runs,
        whether falling back is allowed (see `turnout.migration`). Interrupted by shutdown: a
        retryable `ExecutionInterruptedError`; the caller's own cancellation propagates as
        `asyncio.CancelledError` (`turnout.shutdown`).

        The rollout ids (`tenant_id`, `workflow_id`, `execution_id`: the platform's
        execution, not turnout's id of this run) are the only bucketing keys; they are
        also the labels `tenant`, `workflow` and `execution` of the event and the sandbox.
        `labels` with those keys still work as ids (the parameters win).
        """
        with span("turnout.execute") as traced:
            traced.set(environment=self.environment, language=config.language)
            try:
                checked = rollout_labels(parse_labels(labels), tenant_id, workflow_id, execution_id)
                envelope = await self.in_flight.run(self._run(config, inputs, backend, checked))
            except TurnoutError as error:
                error.add_warnings(config.warnings)  # also on errors raised before any backend
                raise
            traced.set(backend=envelope["metadata"]["backend"], outcome="success")
            return envelope

    async def _run(
        self,
        config: CodeNodeConfig,
        inputs: dict[str, Any],
        backend: str | None,
        labels: dict[str, str],
    ) -> dict[str, Any]:
        execution_id = uuid.uuid4().hex
        if backend is not None:
            return await self.run_on(
                backend, config, inputs, labels=labels, execution_id=execution_id, role="direct"
            )
        with span("turnout.decision") as traced:
            decision = self.evaluator.decide(
                self.environment,
                tenant_id=labels.get("tenant"),
                workflow_id=labels.get("workflow"),
                execution_key=labels.get("execution"),
                side_effect_free=config.side_effect_free,
                sample_key=execution_id,
            )
            traced.set(
                stage=decision.stage,
                backend__authoritative=decision.authoritative,
                backend__candidate=decision.candidate,
                shadow=decision.shadow,
                decided_by=decision.decided_by,
                reason=decision.reason,
            )
        fields = {
            "execution_id": execution_id,
            "environment": self.environment,
            "code_sha256": code_hash(config),
            **decision.to_log(),
            **{f"label_{key}": labels[key] for key in ROLLOUT_ID_LABELS if key in labels},
        }
        shadow = None
        if decision.shadow and decision.candidate is not None:
            candidate = decision.candidate
            shadow = self.shadow.start(
                lambda: self.run_on(
                    candidate,
                    config,
                    inputs,
                    labels=labels,
                    execution_id=f"{execution_id}-shadow",
                    role="shadow",
                    decision=decision,
                ),
                fields=fields,
            )
        try:
            envelope = await self.run_on(
                decision.authoritative,
                config,
                inputs,
                labels=labels,
                execution_id=execution_id,
                role="authoritative",
                decision=decision,
            )
        except TurnoutError as error:
            if shadow is not None:
                self.shadow.compare_when_done(shadow, error, decision, fields=fields)
            if not may_fall_back(decision, error):
                raise
            legacy = self.environment_flags.legacy_backend
            log.warning(
                "fallback_to_legacy",
                failed_backend=decision.authoritative,
                fallback_backend=legacy,
                error=error.message,
                **fields,
            )
            return await self.run_on(
                legacy,
                config,
                inputs,
                labels=labels,
                execution_id=execution_id,
                role="fallback",
                decision=decision,
            )
        if shadow is not None:
            self.shadow.compare_when_done(shadow, envelope, decision, fields=fields)
        return envelope

    async def run_on(
        self,
        backend_id: str,
        config: CodeNodeConfig,
        inputs: dict[str, Any],
        *,
        labels: dict[str, str],
        execution_id: str,
        role: str,
        decision: Decision | None = None,
    ) -> dict[str, Any]:
        """One execution on one backend: prepare, execute, decode, log one event; in its
        span (`turnout.shadow` for a shadow run, else `turnout.backend`)."""
        with span("turnout.shadow" if role == "shadow" else "turnout.backend") as traced:
            traced.set(backend=backend_id, role=role)
            envelope = await self._run_on(
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

    async def _run_on(
        self,
        backend_id: str,
        config: CodeNodeConfig,
        inputs: dict[str, Any],
        *,
        labels: dict[str, str],
        execution_id: str,
        role: str,
        decision: Decision | None,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        event: dict[str, Any] = {
            "execution_id": execution_id,
            "environment": self.environment,
            "backend": backend_id,
            "role": role,
            "language": config.language,
            "code_sha256": code_hash(config),
            **(decision.to_log() if decision is not None else {}),
            **{f"label_{key}": value for key, value in labels.items()},
        }
        if config.warnings:
            event["warnings"] = config.warnings  # logged whatever the outcome
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
            log_failure(event, exc, raw, started)
            raise
        except Exception as exc:  # a bug (turnout's or the plugin's): never retried
            internal = _internal_error(exc, backend_id)
            internal.add_warnings(config.warnings)
            log_failure(event, internal, raw, started)
            raise internal from exc
        envelope = build_envelope(config, decoded, raw, backend_id, execution_id, started)
        log_success(event, envelope, decoded, raw)
        return envelope

    async def aclose(self) -> None:
        """Finish shadow comparisons, then close every backend this engine constructed."""
        await self.shadow.aclose()
        await self._instances.aclose()


def _current(source: FlagFile | FlagReloader) -> FlagFile:
    return source.current() if isinstance(source, FlagReloader) else source


ROLLOUT_ID_LABELS = ("tenant", "workflow", "execution", "node")
"""The labels that carry the rollout ids and the node's id; every event of an execution
repeats them."""


def code_hash(config: CodeNodeConfig) -> str:
    """The node's identity in events and reports: a short hash of its code."""
    return hashlib.sha256(config.code.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def rollout_labels(
    labels: Mapping[str, str] | None,
    tenant_id: str | None,
    workflow_id: str | None,
    execution_id: str | None,
) -> dict[str, str]:
    """`labels` with the rollout ids given as parameters under `tenant`, `workflow` and
    `execution` (a parameter wins over a label of the same name; an empty one is no id)."""
    merged = dict(labels or {})
    for key, value in (
        ("tenant", tenant_id),
        ("workflow", workflow_id),
        ("execution", execution_id),
    ):
        if value:
            merged[key] = value
    return merged


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
