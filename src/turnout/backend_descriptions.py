"""What `turnout backends` shows of each registered backend: built here to read its
capabilities and endpoint, or unavailable with the reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from turnout.backend import ExecutionBackend
from turnout.errors import TurnoutError
from turnout.models import Capabilities
from turnout.registry import BackendRegistry, Distribution

__all__ = ["BackendDescription", "describe_backends"]


@dataclass(frozen=True)
class BackendDescription:
    """A registered backend as `turnout backends` shows it: its capabilities are those of
    the instance built here, at `endpoint` (where its calls go, when it says)."""

    id: str
    plugin: str
    description: str
    deprecated: bool
    capabilities: Capabilities | None
    unavailable_reason: str | None
    endpoint: str | None = None
    distribution: Distribution | None = None

    def to_dict(self) -> dict[str, Any]:
        caps = self.capabilities.model_dump(mode="json") if self.capabilities else None
        if caps is not None:
            caps["languages"] = sorted(caps["languages"])
        return {
            "id": self.id,
            "plugin": self.plugin,
            "distribution": self.distribution.to_dict() if self.distribution else None,
            "description": self.description,
            "deprecated": self.deprecated,
            "available": self.unavailable_reason is None,
            "unavailable_reason": self.unavailable_reason,
            "endpoint": self.endpoint,
            "capabilities": caps,
        }


def describe_backends(
    registry: BackendRegistry, build: Callable[[str], ExecutionBackend]
) -> list[BackendDescription]:
    """Every backend a plugin registered, by id: built here to read its capabilities, or
    unavailable with the reason. A constructor that raises something other than a turnout
    error is a bug in its plugin: that backend is unavailable (an execution on it is an
    `InternalError`), the others are still described. Backends of broken plugins, and
    ids claimed by several plugins, are listed unavailable with the registry's reason."""
    descriptions = []
    for registered in registry:
        capabilities, reason, endpoint = None, None, None
        try:
            instance = build(registered.id)
            capabilities = instance.capabilities
            endpoint = getattr(instance, "endpoint", None)
        except TurnoutError as exc:
            reason = exc.message
        except Exception as exc:  # a bug in the plugin: this backend only
            reason = (
                f"building it raised {type(exc).__name__}: {exc} (a bug in plugin "
                f"{registered.plugin!r}; executions on it fail with an InternalError)"
            )
        described = _description(registry, registered.backend_type, registered.plugin, reason)
        descriptions.append(
            replace(
                described,
                capabilities=capabilities,
                endpoint=str(endpoint) if endpoint else None,
            )
        )
    for unavailable in registry.unavailable:
        descriptions.append(
            _description(registry, unavailable.backend_type, unavailable.plugin, unavailable.reason)
        )
    return sorted(descriptions, key=lambda described: (described.id, described.plugin))


def _description(
    registry: BackendRegistry, backend_type: Any, plugin: str, reason: str | None
) -> BackendDescription:
    return BackendDescription(
        id=backend_type.id,
        plugin=plugin,
        description=getattr(backend_type, "description", ""),
        deprecated=bool(getattr(backend_type, "deprecated", False)),
        capabilities=None,
        unavailable_reason=reason,
        distribution=registry.distribution_of(plugin),
    )
