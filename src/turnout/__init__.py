"""turnout: move workflow code-node execution between backends, safely and by flag.

Import what you need from here; the submodules are implementation detail. A worker holds
one `turnout.Client` (see docs/embedding.md).

Every name is loaded on first use (PEP 562), so `import turnout` costs almost nothing: no
pydantic model, no plugin, no backend SDK is imported until something needs it.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing is most of the cost
if TYPE_CHECKING:
    from typing import Any

    from turnout.backend import BackendSettings, ExecutionBackend
    from turnout.client import Client, SyncClient
    from turnout.codenode import execute_code_node, execute_code_node_sync
    from turnout.engine import Engine
    from turnout.envelope import Envelope, EnvelopeMetadata
    from turnout.errors import (
        CodeExecutionError,
        ConfigurationError,
        ExecutionInterruptedError,
        InfrastructureError,
        InternalError,
        TurnoutError,
        ValidationError,
    )
    from turnout.flags import Decision, FlagFile
    from turnout.hookspecs import hookimpl
    from turnout.models import (
        Capabilities,
        CodeNodeConfig,
        ExecutionRequest,
        ExecutionResult,
        parse_config,
    )
    from turnout.shutdown import ShutdownReport, install_signal_handlers

__all__ = [
    "BackendSettings",
    "Capabilities",
    "Client",
    "CodeExecutionError",
    "CodeNodeConfig",
    "ConfigurationError",
    "Decision",
    "Engine",
    "Envelope",
    "EnvelopeMetadata",
    "ExecutionBackend",
    "ExecutionInterruptedError",
    "ExecutionRequest",
    "ExecutionResult",
    "FlagFile",
    "InfrastructureError",
    "InternalError",
    "ShutdownReport",
    "SyncClient",
    "TurnoutError",
    "ValidationError",
    "execute_code_node",
    "execute_code_node_sync",
    "hookimpl",
    "install_signal_handlers",
    "parse_config",
]

_HOMES = {
    "BackendSettings": "turnout.backend",
    "ExecutionBackend": "turnout.backend",
    "Client": "turnout.client",
    "SyncClient": "turnout.client",
    "execute_code_node": "turnout.codenode",
    "execute_code_node_sync": "turnout.codenode",
    "Engine": "turnout.engine",
    "Envelope": "turnout.envelope",
    "EnvelopeMetadata": "turnout.envelope",
    "CodeExecutionError": "turnout.errors",
    "ConfigurationError": "turnout.errors",
    "ExecutionInterruptedError": "turnout.errors",
    "InfrastructureError": "turnout.errors",
    "InternalError": "turnout.errors",
    "TurnoutError": "turnout.errors",
    "ValidationError": "turnout.errors",
    "Decision": "turnout.flags",
    "FlagFile": "turnout.flags",
    "hookimpl": "turnout.hookspecs",
    "Capabilities": "turnout.models",
    "CodeNodeConfig": "turnout.models",
    "ExecutionRequest": "turnout.models",
    "ExecutionResult": "turnout.models",
    "parse_config": "turnout.models",
    "ShutdownReport": "turnout.shutdown",
    "install_signal_handlers": "turnout.shutdown",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'turnout' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
