"""Helpers shared by these tests: quiet backend construction, tiny requests, process checks."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import psutil
import pytest
from turnout_local_subprocess import LegacyBackendDeprecationWarning, LocalSubprocessBackend
from turnout_local_subprocess.cgroups import probe

from turnout.backend import BackendSettings
from turnout.models import ExecutionRequest, ExecutionResult, Language

# The interpreter behind this test run rather than a PATH shim: shims (pyenv) add their
# own variables to the environment and cost ~60 ms per start.
PYTHON = os.path.realpath(sys.executable)
HAS_CGROUPS = probe() is not None
needs_cgroups = pytest.mark.skipif(not HAS_CGROUPS, reason="cgroup v1 memory is not writable")

BackendFactory = Callable[..., LocalSubprocessBackend]


def build_backend(**options: Any) -> LocalSubprocessBackend:
    """A backend with test defaults, without the deprecation warning every test would see."""
    options.setdefault("python", PYTHON)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LegacyBackendDeprecationWarning)
        return LocalSubprocessBackend(BackendSettings(environment="test", options=options))


def request(
    language: Language, program: str, *, timeout_ms: int = 10_000, **fields: Any
) -> ExecutionRequest:
    fields.setdefault("result_path", "result.bin")
    fields.setdefault("max_result_bytes", 1024 * 1024)
    return ExecutionRequest(
        execution_id="test", language=language, program=program, timeout_ms=timeout_ms, **fields
    )


async def run(
    backend: LocalSubprocessBackend, language: Language, program: str, **fields: Any
) -> ExecutionResult:
    return await backend.execute(request(language, program, **fields))


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped is not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pids_in(text: str) -> list[int]:
    return [int(word) for word in text.split() if word.isdigit()]


def exists(path: str | os.PathLike[str]) -> bool:
    """A synchronous existence check, for asserting after an execution has finished."""
    return os.path.exists(path)
