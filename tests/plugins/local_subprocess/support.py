"""Helpers shared by these tests: quiet backend construction, tiny requests, process checks.

Inside a PID namespace a program's pids mean nothing on the host, so tests that check
whether a process survived give it a unique marker in its command line and look for that
marker among the host's processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import psutil
import pytest
from turnout_local_subprocess import (
    LegacyBackendDeprecationWarning,
    LocalSubprocessBackend,
    isolation,
)
from turnout_local_subprocess.cgroups import probe

from turnout.backend import BackendSettings
from turnout.models import ExecutionRequest, ExecutionResult, Language

# The interpreter behind this test run rather than a PATH shim: shims (pyenv) add their
# own variables to the environment and cost ~60 ms per start.
PYTHON = os.path.realpath(sys.executable)
HAS_CGROUPS = probe() is not None
needs_cgroups = pytest.mark.skipif(not HAS_CGROUPS, reason="cgroup v1 memory is not writable")
HAS_NAMESPACES = isolation.find()[0] is not None
needs_namespaces = pytest.mark.skipif(
    not HAS_NAMESPACES, reason="programs cannot run in their own PID namespace here"
)

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


def new_marker() -> str:
    return f"turnout-test-{uuid.uuid4().hex}"


def marked(marker: str) -> list[psutil.Process]:
    """Live host processes with `marker` in their command line (zombies excluded)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(marker in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


def kill_marked(marker: str) -> None:
    """Clean up after a test whose point is that something survives."""
    for process in marked(marker):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def exists(path: str | os.PathLike[str]) -> bool:
    """A synchronous existence check, for asserting after an execution has finished."""
    return os.path.exists(path)


def host_mounts() -> str:
    """The worker's mount table."""
    with open("/proc/self/mountinfo") as handle:
        return handle.read()


async def record_loop_gaps(gaps: list[float]) -> None:
    """Append, until cancelled, the time between successive wake-ups of a 10 ms sleep: a
    gap much longer than 10 ms means something held the event loop."""
    last = time.perf_counter()
    while True:
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
