"""One environment's execution machinery: its flags, the registry, live backends, and the
one path every execution takes.

An `Engine` is created per process and environment and reused for every execution: flags
are read and plugins discovered once, and each backend is constructed on first use and
rebuilt only when a flag reload changes its options (`turnout.instances`).

`Engine.execute(node, context, ...)` is the one path of an execution, whoever asks for it
(`turnout.Client`, `execute_code_node`, the conformance runner, the chaos run): check and
parse the node, select its inputs, decide per the flags (or run on the backend asked for),
run on the backend (`turnout.backend_run`), with a shadow run or a fallback when the
decision says so (`turnout.migration`), and return the typed `Envelope`. The engine also
owns the lifecycle of its executions: each runs as a task it tracks (`turnout.in_flight`),
and `shutdown` refuses new ones, interrupts those in flight and closes the backends.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from turnout.backend import BackendSettings, ExecutionBackend
from turnout.backend_descriptions import BackendDescription, describe_backends
from turnout.backend_run import run_on_backend
from turnout.contract import select_inputs
from turnout.envelope import Envelope
from turnout.errors import ConfigurationError, TurnoutError, ValidationError
from turnout.execution_record import code_hash, decision_fields
from turnout.flags import (
    DEFAULT_CHECK_INTERVAL,
    EnvironmentFlags,
    FlagEvaluator,
    FlagFile,
    FlagReloader,
    check_backend_options,
    current_environment,
)
from turnout.in_flight import DEFAULT_REASON, InFlight
from turnout.instances import BackendInstances
from turnout.limits import MAX_CONFIG_BYTES, MAX_CONTEXT_BYTES, check_json_value
from turnout.log_events import ExecutionFields, FallbackToLegacy
from turnout.logging import get_logger, install_stdlib_redaction
from turnout.migration import DEFAULT_SHADOW_BUDGET, ShadowRunner, may_fall_back
from turnout.models import CodeNodeConfig, parse_config, parse_labels
from turnout.registry import BackendRegistry, default_registry
from turnout.tracing import span

__all__ = [
    "ROLLOUT_ID_LABELS",
    "Engine",
    "check_ids",
    "code_hash",
    "rollout_labels",
]

log = get_logger("turnout.execution")


class Engine:
    """Runs code nodes for one environment; share one per process (see `turnout.client`)."""

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
        self.in_flight = InFlight()  # what `shutdown` interrupts
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

    async def execute(
        self,
        node: Mapping[str, Any] | CodeNodeConfig,
        context: Mapping[str, Any],
        *,
        tenant_id: str | None = None,
        workflow_id: str | None = None,
        execution_id: str | None = None,
        backend: str | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> Envelope:
        """Run one code node with the workflow `context`; its envelope, or one classified
        error (`ValidationError`, `CodeExecutionError`, `InfrastructureError`,
        `InternalError`, `ConfigurationError`).

        The node (a stored config, docs/contract.md) and the context are checked against
        turnout.limits before anything recurses over them, then parsed. With `backend`,
        the run is exactly there (tests, conformance, comparisons: a `direct` run).
        Otherwise the flags decide per execution: which backend is authoritative, whether
        a shadow runs, whether falling back is allowed (see `turnout.migration`).

        The rollout ids (`tenant_id`, `workflow_id`, `execution_id`: the platform's
        execution, not turnout's id of this run) are the only bucketing keys; they are
        also the labels `tenant`, `workflow` and `execution` of the event and the sandbox.
        `labels` with those keys still work as ids (the parameters win). Interrupted by
        `shutdown`: a retryable `ExecutionInterruptedError`; the caller's own cancellation
        propagates as `asyncio.CancelledError`.
        """
        check_ids(tenant_id=tenant_id, workflow_id=workflow_id, execution_id=execution_id)
        check_json_value(node, "config", max_bytes=MAX_CONFIG_BYTES)
        check_json_value(context, "context", max_bytes=MAX_CONTEXT_BYTES)
        config = parse_config(node if isinstance(node, CodeNodeConfig) else _as_dict(node))
        with span("turnout.execute") as traced:
            traced.set(environment=self.environment, language=config.language)
            try:
                inputs = select_inputs(context, config.input_variables)
                checked = rollout_labels(
                    parse_labels(dict(labels) if labels else None),
                    tenant_id,
                    workflow_id,
                    execution_id,
                )
                raw = await self.in_flight.run(self._run(config, inputs, backend, checked))
            except TurnoutError as error:
                error.add_warnings(config.warnings)  # also on errors raised before any backend
                raise
            traced.set(backend=raw["metadata"]["backend"], outcome="success")
        return Envelope.from_dict(raw, output_variable=config.output_variable)

    async def _run(
        self,
        config: CodeNodeConfig,
        inputs: dict[str, Any],
        backend: str | None,
        labels: dict[str, str],
    ) -> dict[str, Any]:
        """The run on `backend`, or the authoritative run the flags decide (with its shadow
        run, or its fallback)."""
        execution_id = uuid.uuid4().hex
        if backend is not None:
            return await run_on_backend(
                self,
                backend,
                config,
                inputs,
                labels=labels,
                execution_id=execution_id,
                role="direct",
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
        about = ExecutionFields(
            execution_id=execution_id,
            environment=self.environment,
            code_sha256=code_hash(config),
            decision=decision_fields(decision),
            labels={key: labels[key] for key in ROLLOUT_ID_LABELS if key in labels},
        )
        shadow = None
        if decision.shadow and decision.candidate is not None:
            candidate = decision.candidate
            shadow = self.shadow.start(
                lambda: run_on_backend(
                    self,
                    candidate,
                    config,
                    inputs,
                    labels=labels,
                    execution_id=f"{execution_id}-shadow",
                    role="shadow",
                    decision=decision,
                ),
                about=about,
            )
        try:
            envelope = await run_on_backend(
                self,
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
                self.shadow.compare_when_done(shadow, error, decision, about=about)
            if not may_fall_back(decision, error):
                raise
            legacy = self.environment_flags.legacy_backend
            log.emit(
                FallbackToLegacy(
                    failed_backend=decision.authoritative,
                    fallback_backend=legacy,
                    error=error.message,
                    **about,
                ),
                level=logging.WARNING,
            )
            return await run_on_backend(
                self,
                legacy,
                config,
                inputs,
                labels=labels,
                execution_id=execution_id,
                role="fallback",
                decision=decision,
            )
        if shadow is not None:
            self.shadow.compare_when_done(shadow, envelope, decision, about=about)
        return envelope

    @property
    def closing(self) -> bool:
        """Whether this engine refuses new executions (its shutdown began)."""
        return self.in_flight.closing

    def refuse(self, reason: str = DEFAULT_REASON) -> None:
        """Refuse new executions from now on: each fails with a retryable
        `InfrastructureError` saying `reason` (the code never started)."""
        self.in_flight.close(reason)

    async def shutdown(self, grace_s: float = 0.0, *, reason: str = DEFAULT_REASON) -> int:
        """Refuse new executions, give those in flight `grace_s` to finish, cancel the rest
        (each backend kills its sandbox or process group; the callers get a retryable
        `ExecutionInterruptedError`), give shadow runs the same grace, then close the
        backends. How many executions were cancelled. `turnout.shutdown` does this for
        several engines at once."""
        self.refuse(reason)
        interrupted = await self.in_flight.interrupt(grace_s)
        await self.shadow.aclose(timeout_s=grace_s)
        await self.aclose()
        return interrupted

    async def aclose(self) -> None:
        """Finish shadow comparisons, then close every backend this engine constructed."""
        await self.shadow.aclose()
        await self._instances.aclose()


def _current(source: FlagFile | FlagReloader) -> FlagFile:
    return source.current() if isinstance(source, FlagReloader) else source


ROLLOUT_ID_LABELS = ("tenant", "workflow", "execution", "node")
"""The labels that carry the rollout ids and the node's id; every event of an execution
repeats them."""


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


def _as_dict(node: object) -> object:
    """A mapping node as the dict `parse_config` validates; anything else as it is (so
    that the error names what was passed)."""
    return dict(node) if isinstance(node, Mapping) else node


def check_ids(**ids: str | None) -> dict[str, str | None]:
    """The rollout ids, each a non-empty string or None; a `ValidationError` otherwise."""
    for name, value in ids.items():
        if value is not None and (not isinstance(value, str) or not value):
            shown = type(value).__name__ if not isinstance(value, str) else "an empty string"
            raise ValidationError(name, f"must be a non-empty string or None, got {shown}")
    return ids
