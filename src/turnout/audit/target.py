"""What the audit judges against: the target backend as configured in an environment, and
the legacy backend beside it (to tell "breaks on the target" from "already broken").

Both are the real backend instances the environment's flag file builds, so their
capabilities (languages, network access, host environment, importable packages) are the
ones executions would meet. Nothing is executed: constructing the e2b backend does not
create a sandbox or start the embedded server.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout.conformance.backends import BackendUnderTest, describe_backends
from turnout.engine import Engine
from turnout.errors import ConfigurationError, ValidationError
from turnout.models import Capabilities, Language
from turnout.packages import provides

__all__ = ["AuditTarget", "describe_target"]


@dataclass(frozen=True)
class AuditTarget:
    """The environment, its target backend (available) and its legacy backend (which may
    be unavailable there, for example at `complete`)."""

    environment: str
    target: BackendUnderTest
    legacy: BackendUnderTest | None

    @property
    def capabilities(self) -> Capabilities:
        assert self.target.capabilities is not None, "describe_target checks availability"
        return self.target.capabilities

    @property
    def name(self) -> str:
        return self.target.id

    def provides(self, language: Language, module: str) -> bool | None:
        """Whether the target imports `module` (None: it declares nothing for `language`)."""
        declared = self.capabilities.packages.get(language)
        return None if declared is None else provides(declared, language, module)

    def legacy_provides(self, language: Language, module: str) -> bool | None:
        """Whether the legacy backend imports `module` (None: unknown)."""
        if self.legacy is None or self.legacy.capabilities is None:
            return None
        declared = self.legacy.capabilities.packages.get(language)
        return None if declared is None else provides(declared, language, module)


def describe_target(engine: Engine, target_id: str | None = None) -> AuditTarget:
    """The environment's target (or `target_id`) and its legacy backend, constructed; a
    target that cannot load there is a `ConfigurationError` saying why."""
    flags = engine.environment_flags
    chosen = target_id or flags.target_backend
    if chosen not in engine.registry:
        raise ValidationError(
            "--target", f"{chosen!r} is not a registered backend", ", ".join(engine.registry.ids)
        )
    legacy_id = flags.legacy_backend if flags.legacy_backend != chosen else None
    ids = [chosen] + ([legacy_id] if legacy_id and legacy_id in engine.registry else [])
    described = {backend.id: backend for backend in describe_backends(engine, ids)}
    target = described[chosen]
    if target.capabilities is None:
        raise ConfigurationError(
            f"the target backend {chosen!r} cannot load in environment {engine.environment!r}: "
            f"{target.unavailable}; the audit reads what it declares (it runs nothing without "
            "--run), so it needs the backend as that environment configures it"
        )
    return AuditTarget(engine.environment, target, described.get(legacy_id or ""))
