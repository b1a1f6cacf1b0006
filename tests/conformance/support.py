"""Helpers for the conformance tests: fake backends, case files, sessions without flag files.

A fake backend never runs code: it answers every request with one scripted outcome, which
is enough to drive the runner, the ledger and the report through every path quickly.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from turnout.backend import BackendSettings
from turnout.conformance.backends import BackendUnderTest, build_engine, describe_backends
from turnout.conformance.cases import Case, load_case_file
from turnout.conformance.expectations import Observation
from turnout.conformance.ledger import Ledger
from turnout.conformance.runner import CaseResult, ConformanceRunner
from turnout.models import Capabilities, ExecutionRequest, ExecutionResult
from turnout.normalization import ErrorInfo
from turnout.registry import BackendRegistry

CAPABILITIES = Capabilities(
    languages=frozenset({"python", "javascript"}),
    isolation="microvm",
    network_access=True,
    max_timeout_ms=300_000,
    max_output_bytes=1024,
    max_result_bytes=1024 * 1024,
    memory_limit_mb=None,
    memory_enforcement="none",
)


def fake_backend(
    backend_id: str,
    *,
    value: Any = 1,
    stdout: str = "",
    capabilities: Capabilities = CAPABILITIES,
    broken: str | None = None,
    timings_ms: dict[str, float] | None = None,
    sleep_s: float = 0.0,
) -> type:
    """A backend class whose every execution returns `value` (channel return) and `stdout`,
    after `sleep_s` (except the runner's untimed warm-up), reporting `timings_ms`; with
    `broken`, its constructor raises that message instead."""

    class FakeBackend:
        id = backend_id
        deprecated = False
        description = "fake backend for tests"
        executions: list[ExecutionRequest] = []  # noqa: RUF012 - shared on purpose

        def __init__(self, settings: BackendSettings) -> None:
            if broken is not None:
                raise RuntimeError(broken)
            self.settings = settings

        @property
        def capabilities(self) -> Capabilities:
            return capabilities

        async def execute(self, request: ExecutionRequest) -> ExecutionResult:
            self.executions.append(request)
            if sleep_s and request.labels.get("suite") != "conformance-warm-up":
                await asyncio.sleep(sleep_s)
            outcome = {"ok": True, "channel": "return", "value": value}
            return ExecutionResult(
                stdout=stdout,
                result=json.dumps(outcome).encode(),
                exit_code=0,
                timings_ms=timings_ms or {},
            )

        async def aclose(self) -> None:
            return None

    return FakeBackend


def registry_of(*backend_types: type) -> BackendRegistry:
    registry = BackendRegistry()
    for backend_type in backend_types:
        registry.add(backend_type)
    return registry


@pytest.fixture
def no_flag_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run without a flag file, as a third-party checkout would (in-memory defaults)."""
    monkeypatch.delenv("TURNOUT_FLAGS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_runner(
    *backend_types: type, ledger: Ledger | None = None, reference: str = "ref"
) -> ConformanceRunner:
    """A runner over fake backends, built as a session builds it (needs `no_flag_file`)."""
    registry = registry_of(*backend_types)
    ids = [backend_type.id for backend_type in backend_types]
    engine = build_engine(registry, backend_ids=ids)
    return ConformanceRunner(
        engine, describe_backends(engine, ids), ledger=ledger, reference=reference
    )


def write_cases(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def one_case(tmp_path: Path, text: str, name: str = "theme") -> Case:
    [case] = load_case_file(write_cases(tmp_path / "cases", name, text))
    return case


def success(
    output: Any = None, *, stdout: str = "", wall_ms: float = 10, **metadata: Any
) -> Observation:
    envelope = {
        "language": "python",
        "output": output,
        "stdout": stdout,
        "stderr": "",
        "logs": stdout.splitlines(),
        "metadata": {
            "executionTime": 5,
            "backend": "x",
            "executionId": "id",
            "outputChannel": "return",
            **metadata,
        },
    }
    return Observation(envelope=envelope, error=None, wall_ms=wall_ms)


def failure(kind: str = "runtime", message: str = "boom", **details: Any) -> Observation:
    error = ErrorInfo("CodeExecutionError", message, False, kind=kind, **details)
    return Observation(envelope=None, error=error, wall_ms=10)


def result(
    case_id: str, backend: str, status: Any, *, theme: str = "t", **details: Any
) -> CaseResult:
    """A concluded result; `raw_status` defaults to `status`."""
    raw_status = details.pop("raw_status", status)
    return CaseResult(case_id, theme, backend, status, raw_status=raw_status, **details)


def backend_under_test(backend_id: str, *, deprecated: bool = False) -> BackendUnderTest:
    return BackendUnderTest(backend_id, backend_id, deprecated, "local", CAPABILITIES)
