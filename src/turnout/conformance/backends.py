"""The backends under test: which ones, the engine that runs them, and what each declares.

The suite runs nodes through `turnout.Engine`, the same path production executions take, so
a backend is tested together with the contract layer that surrounds it. The engine comes
from the flag file when there is one (so backend options such as an E2B endpoint apply);
without one (a third-party plugin's own checkout), a minimal in-memory configuration is
used in which every backend runs with its default options.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from turnout.backend import declared_endpoint, declared_max_concurrency
from turnout.engine import Engine
from turnout.errors import TurnoutError, ValidationError
from turnout.flags import FLAGS_FILE_VARIABLE, current_environment, parse_flags
from turnout.models import Capabilities
from turnout.registry import BackendRegistry, default_registry

__all__ = [
    "DEFAULT_REFERENCE",
    "BackendUnderTest",
    "build_engine",
    "describe_backends",
    "flag_target",
    "refresh_endpoints",
    "select_backends",
]

#: The legacy backend every other backend is compared with, and whose deletion the verdict
#: is about.
DEFAULT_REFERENCE = "local-subprocess"
SYNTHESIZED_ENVIRONMENT = "conformance"


@dataclass(frozen=True)
class BackendUnderTest:
    """A backend as the report shows it: where it ran and what it declared."""

    id: str
    plugin: str
    deprecated: bool
    endpoint: str
    capabilities: Capabilities | None
    unavailable: str | None = None
    max_concurrency: int | None = None

    def to_dict(self) -> dict[str, Any]:
        capabilities = None
        if self.capabilities is not None:
            capabilities = self.capabilities.model_dump(mode="json")
            capabilities["languages"] = sorted(capabilities["languages"])
        return {
            "id": self.id,
            "plugin": self.plugin,
            "deprecated": self.deprecated,
            "endpoint": self.endpoint,
            "available": self.unavailable is None,
            "unavailable_reason": self.unavailable,
            "capabilities": capabilities,
        }


def select_backends(registry: BackendRegistry, wanted: Sequence[str] = ()) -> list[str]:
    """The ids to test: `wanted` in the given order (each must be registered), else all."""
    if not wanted:
        return list(registry.ids)
    unknown = [backend_id for backend_id in wanted if backend_id not in registry]
    if unknown:
        raise ValidationError(
            "backends",
            f"{', '.join(unknown)} not registered; install the plugin that provides it",
            ", ".join(registry.ids) or "none registered",
        )
    return list(dict.fromkeys(wanted))


def _flag_file_exists(flags_path: str | Path | None) -> bool:
    candidate = flags_path or os.environ.get(FLAGS_FILE_VARIABLE) or "feature_flags.toml"
    return Path(candidate).is_file()


def _synthesized_engine(registry: BackendRegistry, backend_ids: Sequence[str]) -> Engine:
    """An engine for an in-memory environment whose backends run with default options."""
    first = backend_ids[0] if backend_ids else (registry.ids or [DEFAULT_REFERENCE])[0]
    other = next((b for b in [*backend_ids, *registry.ids] if b != first), f"{first}-none")
    text = (
        "schema_version = 1\n"
        f"[environments.{SYNTHESIZED_ENVIRONMENT}]\n"
        'stage = "off"\n'
        f'legacy_backend = "{first}"\n'
        f'target_backend = "{other}"\n'
    )
    flags = parse_flags(text, source="<conformance defaults>")
    return Engine(SYNTHESIZED_ENVIRONMENT, flags=flags, registry=registry)


def build_engine(
    registry: BackendRegistry | None = None,
    *,
    backend_ids: Sequence[str] = (),
    environment: str | None = None,
    flags_path: str | Path | None = None,
) -> Engine:
    """The engine the suite runs through: from the flag file when one is found, else
    a minimal in-memory configuration (no backend options)."""
    chosen = registry if registry is not None else default_registry()
    if flags_path is not None or _flag_file_exists(flags_path):
        return Engine(current_environment(environment), flags_path=flags_path, registry=chosen)
    return _synthesized_engine(chosen, backend_ids)


def flag_target(engine: Engine) -> str | None:
    """The flag file's target_backend for the engine's environment: the backend the
    migration moves to, marked in the verdict. None when there is no flag file (the suite
    made up its own configuration, whose target means nothing)."""
    if engine.environment == SYNTHESIZED_ENVIRONMENT:
        return None
    return engine.environment_flags.target_backend


def describe_backends(engine: Engine, backend_ids: Sequence[str]) -> list[BackendUnderTest]:
    """Construct each backend; one that cannot load is reported unavailable, with why."""
    described = []
    for backend_id in backend_ids:
        registered = engine.registry.get(backend_id)
        deprecated = bool(getattr(registered.backend_type, "deprecated", False))
        try:
            instance = engine.backend(backend_id)
            capabilities = instance.capabilities
            endpoint = declared_endpoint(instance)
        except Exception as error:  # a plugin's constructor may fail in any way
            message = error.message if isinstance(error, TurnoutError) else repr(error)
            described.append(
                BackendUnderTest(
                    backend_id, registered.plugin, deprecated, "unknown", None, message
                )
            )
            continue
        described.append(
            BackendUnderTest(
                id=backend_id,
                plugin=registered.plugin,
                deprecated=deprecated,
                endpoint=str(endpoint) if endpoint else "local",
                capabilities=capabilities,
                max_concurrency=declared_max_concurrency(instance),
            )
        )
    return described


def refresh_endpoints(
    engine: Engine, backends: Sequence[BackendUnderTest]
) -> list[BackendUnderTest]:
    """The same backends with `endpoint` read again: a backend may only know where it
    runs after its first execution (the e2b backend starts its embedded server lazily)."""
    refreshed = []
    for backend in backends:
        endpoint = backend.endpoint
        if backend.unavailable is None:
            try:
                endpoint = declared_endpoint(engine.backend(backend.id)) or "local"
            except Exception:  # reporting must not fail because a label cannot be read
                endpoint = backend.endpoint
        refreshed.append(replace(backend, endpoint=endpoint))
    return refreshed
