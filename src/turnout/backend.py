"""The one interface a backend implements.

A backend runs an `ExecutionRequest` (a prepared program plus files) once, in a fresh,
isolated place, and reports what it saw as an `ExecutionResult`. It knows nothing about
workflows, node configs or JSON conversion: the contract layer prepared the program and
decodes the result, so every backend behaves the same for the same request.

Rules a backend keeps (the conformance suite checks them):

- A user-code failure (non-zero exit, exception, timeout, memory) is a *result*. Exceptions
  are for infrastructure failures only, and they are `turnout.errors.InfrastructureError`
  (or `ConfigurationError`): vendor exceptions are translated at the backend's boundary.
- `timeout_ms` is a wall-clock bound the backend enforces itself; when it expires, nothing
  the program started survives.
- Whatever the backend creates for an execution (process, sandbox) is destroyed on every
  path, cancellation included.
- User code never sees the host environment.

Each rule has a mutant in `turnout.conformance.mutants`: a backend that breaks it, which the
suite must refuse (docs/conformance.md, "Mutants"). A new rule comes with its mutant, and
with its entry among docs/writing-a-backend.md's numbered rules naming that mutant (a test
checks every rule there names one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

import pydantic

from turnout.errors import ConfigurationError
from turnout.field_errors import field_problems, summarize

if TYPE_CHECKING:
    from turnout.models import Capabilities, ExecutionRequest, ExecutionResult

__all__ = [
    "PROVISIONING_PHASES",
    "BackendSettings",
    "BackendType",
    "ExecutionBackend",
    "declared_endpoint",
    "declared_max_concurrency",
    "options_model_of",
    "parse_backend_options",
    "provisioning_ms",
    "truncation_marker",
]

Options = TypeVar("Options", bound=pydantic.BaseModel)

# `ExecutionResult.timings_ms` keys that measure getting somewhere to run the code (a slot,
# a sandbox made, taken or started, turnout's runtime loaded in it), as opposed to running
# it. The node's timeout bounds the code, not these: the conformance suite's wall-time
# bounds and the chaos run's timeout check leave them out.
PROVISIONING_PHASES = ("queue", "create", "pool_take", "setup", "spawn")


def provisioning_ms(timings_ms: Mapping[str, float]) -> float:
    """Milliseconds an execution spent before its code could start (see PROVISIONING_PHASES)."""
    return sum(float(timings_ms.get(phase, 0.0)) for phase in PROVISIONING_PHASES)


def truncation_marker(stream: str, cap: int) -> str:
    """The line every backend appends to stdout/stderr it cut at `cap` bytes (parity)."""
    return f"\n[turnout: {stream} truncated at {cap} bytes]"


@dataclass(frozen=True)
class BackendSettings:
    """What a backend is constructed with: where it runs and its own options.

    `environment` is the deployment environment (`development`, `production`, ...);
    `options` comes from the backend's table in feature_flags.toml (for example
    `memory_mb` for local-subprocess), already checked against the class's
    `options_model` when it declares one; `legacy_allowed` is the flag that deprecated
    backends must honour by refusing to load when it is false. `keep_warm` says whether
    the backend may prepare ahead for executions to come (pre-started interpreters, a
    warm pool): false in a process that runs one execution and exits (`turnout run`),
    where whatever is prepared ahead is thrown away unused.
    """

    environment: str = "development"
    options: Mapping[str, Any] = field(default_factory=dict)
    legacy_allowed: bool = True
    keep_warm: bool = True


@runtime_checkable
class ExecutionBackend(Protocol):
    """An instance that runs prepared programs. Created per process, shared by executions.

    Two members are optional (a protocol cannot say so; `declared_endpoint` and
    `declared_max_concurrency` are the one place they are read):

    - `endpoint: str`: where executions go, for reports ("E2B cloud", a local server's URL);
      without it, the backend runs locally;
    - `max_concurrency: int`: how many executions the instance runs at once before it makes
      the next wait; the conformance suite never has more in flight, so that its time
      bounds never include a wait in the backend's own queue.
    """

    id: ClassVar[str]

    @property
    def capabilities(self) -> Capabilities:
        """What this instance can do, as configured (for example whether cgroups are used)."""
        ...

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        """Run the program once; raise only `InfrastructureError`/`ConfigurationError`."""
        ...

    async def aclose(self) -> None:
        """Release everything this backend holds; safe to call twice."""
        ...


class BackendType(Protocol):
    """What plugins register: a backend class, constructed lazily from settings.

    `deprecated` backends are listed with a warning, and the class is responsible for
    refusing to construct (with `ConfigurationError`) when `settings.legacy_allowed` is false.

    A class may also declare `options_model`, a pydantic model of its options table
    (strict, `extra="forbid"`). turnout then checks every environment's table against it
    whenever flags load (`turnout flags validate|show|explain`, engine start, hot reload)
    and reports a typo as `FILE:LINE: environments.<env>.backends.<id>.<key>: unknown key
    (did you mean ...?)`, like any other flag-file error. Without one, the table reaches the
    constructor unchecked, and a mistake in it shows only when the backend is built.
    """

    @property
    def id(self) -> str: ...

    @property
    def deprecated(self) -> bool: ...

    @property
    def description(self) -> str: ...

    def __call__(self, settings: BackendSettings) -> ExecutionBackend: ...


def options_model_of(backend_type: object) -> type[pydantic.BaseModel] | None:
    """The `options_model` a backend class declares, or None when it declares none."""
    model = getattr(backend_type, "options_model", None)
    if isinstance(model, type) and issubclass(model, pydantic.BaseModel):
        return model
    return None


def parse_backend_options(
    backend_id: str, model: type[Options], options: Mapping[str, Any]
) -> Options:
    """`options` validated by `model`, or one `ConfigurationError` naming every problem
    in the words the flag file's errors use (`memroy_mb: unknown key (did you mean
    'memory_mb'?)`). For backend constructors; the flag loader reports with file lines."""
    try:
        return model.model_validate(dict(options))
    except pydantic.ValidationError as exc:
        problems = summarize(field_problems(exc, schema=model))
        raise ConfigurationError(
            f"invalid options for the {backend_id} backend in feature_flags.toml "
            f"([environments.<env>.backends.{backend_id}]): {problems}"
        ) from None


def declared_endpoint(backend: object) -> str | None:
    """The optional `endpoint` of a backend instance (see ExecutionBackend), or None."""
    value = getattr(backend, "endpoint", None)
    return str(value) if value else None


def declared_max_concurrency(backend: object) -> int | None:
    """The optional `max_concurrency` of a backend instance (see ExecutionBackend), or None
    when it has none or it is not a positive integer."""
    value = getattr(backend, "max_concurrency", None)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None
