"""turnout: move workflow code-node execution between backends, safely and by flag.

Import what you need from here; the submodules are implementation detail.
"""

from turnout.backend import BackendSettings, ExecutionBackend
from turnout.codenode import execute_code_node, execute_code_node_sync
from turnout.engine import Engine
from turnout.errors import (
    CodeExecutionError,
    ConfigurationError,
    ExecutionInterruptedError,
    InfrastructureError,
    InternalError,
    TurnoutError,
    ValidationError,
)
from turnout.hookspecs import hookimpl
from turnout.models import (
    Capabilities,
    CodeNodeConfig,
    ExecutionRequest,
    ExecutionResult,
    parse_config,
)
from turnout.shutdown import install_signal_handlers

__all__ = [
    "BackendSettings",
    "Capabilities",
    "CodeExecutionError",
    "CodeNodeConfig",
    "ConfigurationError",
    "Engine",
    "ExecutionBackend",
    "ExecutionInterruptedError",
    "ExecutionRequest",
    "ExecutionResult",
    "InfrastructureError",
    "InternalError",
    "TurnoutError",
    "ValidationError",
    "execute_code_node",
    "execute_code_node_sync",
    "hookimpl",
    "install_signal_handlers",
    "parse_config",
]
