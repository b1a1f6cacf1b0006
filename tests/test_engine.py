"""The engine: one log event per execution, without user data; capability checks."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from turnout import (
    BackendSettings,
    Capabilities,
    CodeExecutionError,
    ConfigurationError,
    Engine,
    ExecutionInterruptedError,
    ExecutionRequest,
    ExecutionResult,
    InfrastructureError,
    ValidationError,
    hookimpl,
    parse_config,
)
from turnout.backend import ExecutionBackend
from turnout.envelope import Envelope
from turnout.errors import InternalError
from turnout.flags import FlagFileError, parse_flags
from turnout.limits import MAX_DEPTH
from turnout.log_output import reset as reset_logging
from turnout.logging import capture_logs, configure_logging
from turnout.registry import discover

SECRET_INPUT = "input-value-that-must-not-be-logged"
SECRET_CODE = "marker_in_code_never_logged = 1"
MISSPELT = (
    'schema_version = 1\n[environments.prod]\nstage = "off"\n'
    "[environments.prod.backends.e2b]\npool_sise = 4\n"
)


async def run(engine: Engine, code: str, language: str = "python") -> Envelope:
    config = parse_config({"language": language, "code": f"{SECRET_CODE}\n{code}"})
    return await engine.execute(
        config, {"value": SECRET_INPUT}, backend="local-subprocess", labels={"tenant": "t-1"}
    )


@pytest.fixture
async def engine() -> Engine:
    engine = Engine("test")
    yield engine  # type: ignore[misc]
    await engine.aclose()


class TestExecutionEvent:
    async def test_success_logs_one_event_with_sizes_not_contents(self, engine: Engine) -> None:
        """A successful run logs exactly one event carrying sizes, channel and labels only."""
        with capture_logs() as logs:
            await run(engine, "print(value)\nreturn value")
        events = [e for e in logs if e["event"] == "code_node_executed"]
        assert len(events) == 1
        event = events[0]
        assert (event["outcome"], event["output_channel"], event["label_tenant"]) == (
            "ok",
            "return",
            "t-1",
        )
        assert event["output_bytes"] > 0
        assert event["stdout_bytes"] > 0
        assert SECRET_INPUT not in repr(logs)
        assert "marker_in_code" not in repr(logs)

    async def test_failure_logs_the_error_kind_and_retryable(self, engine: Engine) -> None:
        """A failing run logs one event with the error kind and no user data."""
        with capture_logs() as logs, pytest.raises(CodeExecutionError):
            await run(engine, "raise ValueError(value)")
        [event] = [e for e in logs if e["event"] == "code_node_executed"]
        assert (event["outcome"], event["error_kind"], event["retryable"]) == (
            "error",
            "runtime",
            False,
        )
        assert SECRET_INPUT not in repr(logs)


class TestBackends:
    async def test_unknown_backend_is_a_configuration_error(self, engine: Engine) -> None:
        """Asking for a backend nobody registered names the registered ones."""
        from turnout import ConfigurationError

        config = parse_config({"language": "python", "code": "1"})
        with pytest.raises(ConfigurationError, match="local-subprocess"):
            await engine.execute(config, {}, backend="no-such-backend")


class TestInstrument:
    async def test_wraps_built_and_later_built_backends(self, engine: Engine) -> None:
        """instrument() routes executions through the wrapper for instances built before and
        after the call, and each instance is wrapped once."""
        wrapped: list[str] = []

        def wrap(instance: ExecutionBackend) -> ExecutionBackend:
            wrapped.append(instance.id)
            return instance

        engine.backend("local-subprocess")
        engine.instrument(wrap)
        engine.backend("local-subprocess")
        engine.backend("e2b")
        assert wrapped == ["local-subprocess", "e2b"]


class Buggy:
    """A backend whose own code has a bug: its execute raises a KeyError."""

    id: ClassVar[str] = "buggy"
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = "test double with a bug"

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            languages=frozenset({"python", "javascript"}),
            isolation="process",
            network_access=False,
            max_timeout_ms=300_000,
            max_output_bytes=2**20,
            max_result_bytes=2**26,
            memory_limit_mb=None,
            memory_enforcement="none",
        )

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        return {"a": 1}["missing_key_in_buggy_backend"]  # type: ignore[return-value]

    async def aclose(self) -> None:
        return None


class BuggyPlugin:
    __name__ = "buggy-backend"

    @staticmethod
    @hookimpl
    def turnout_register_backends(registry: Any) -> None:
        registry.add(Buggy)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """turnout's events as JSON lines in a buffer for the test, as in production."""
    stream = io.StringIO()
    configure_logging("test", json_lines=True, stream=stream)
    try:
        yield stream
    finally:
        reset_logging()


class TestInternalErrors:
    async def test_a_bug_in_a_backend_is_a_non_retryable_internal_error(self) -> None:
        """A KeyError from a backend's own code reaches the caller as InternalError, not
        as a retryable InfrastructureError."""
        engine = Engine("test", registry=discover(extra_plugins=[BuggyPlugin()]))
        config = parse_config({"language": "python", "code": "return 1"})
        with pytest.raises(InternalError) as caught:
            await engine.execute(config, {}, backend="buggy")
        await engine.aclose()
        error = caught.value
        assert not isinstance(error, InfrastructureError)
        assert error.retryable is False
        assert isinstance(error.__cause__, KeyError)
        assert "KeyError" in error.message
        assert error.to_dict()["kind"] == "internal"

    async def test_the_bugs_traceback_is_logged(self, json_log: io.StringIO) -> None:
        """The execution event of an internal error carries the traceback of the bug."""
        engine = Engine("test", registry=discover(extra_plugins=[BuggyPlugin()]))
        config = parse_config({"language": "python", "code": "return 1"})
        with pytest.raises(InternalError):
            await engine.execute(config, {}, backend="buggy")
        await engine.aclose()
        events = [json.loads(line) for line in json_log.getvalue().splitlines()]
        [event] = [e for e in events if e["event"] == "code_node_executed"]
        assert (event["level"], event["error_type"], event["retryable"]) == (
            "error",
            "InternalError",
            False,
        )
        assert "missing_key_in_buggy_backend" in event["exception"]
        assert "in execute" in event["exception"]


SAVED_IN_SECONDS = {
    "language": "python",
    "code": "import time\ntime.sleep(5)\nreturn 1",
    "timeout": 30,
    "memoryLimit": 256,
}


class TestConfigWarnings:
    async def test_a_failing_execution_carries_the_warnings(self, engine: Engine) -> None:
        """A node saved with `timeout: 30` (seconds meant) times out with the warnings on
        the error, and a message that names the likely unit mistake."""
        config = parse_config(SAVED_IN_SECONDS)
        with pytest.raises(CodeExecutionError) as caught:
            await engine.execute(config, {}, backend="local-subprocess")
        error = caught.value
        assert error.kind == "timeout"
        assert list(error.warnings) == config.warnings
        assert any("memoryLimit" in warning for warning in error.warnings)
        assert error.to_dict()["warnings"] == config.warnings
        assert "30000" in error.message

    async def test_the_execution_event_logs_the_warnings(self, engine: Engine) -> None:
        """The failed run's `code_node_executed` event carries the config's warnings."""
        config = parse_config(SAVED_IN_SECONDS)
        with capture_logs() as logs, pytest.raises(CodeExecutionError):
            await engine.execute(config, {}, backend="local-subprocess")
        [event] = [e for e in logs if e["event"] == "code_node_executed"]
        assert event["warnings"] == config.warnings

    async def test_a_successful_execution_logs_and_returns_the_warnings(
        self, engine: Engine
    ) -> None:
        """A successful run has the warnings in its envelope and in its event."""
        config = parse_config({"language": "python", "code": "return 1", "memoryLimit": 256})
        with capture_logs() as logs:
            envelope = await engine.execute(config, {}, backend="local-subprocess")
        [event] = [e for e in logs if e["event"] == "code_node_executed"]
        assert list(envelope.metadata.warnings) == config.warnings
        assert event["warnings"] == config.warnings

    async def test_an_error_raised_before_the_backend_carries_the_warnings(
        self, engine: Engine
    ) -> None:
        """An execution refused before it reaches a backend (an unknown backend) still
        carries the config's warnings."""
        config = parse_config({"language": "python", "code": "return 1", "memoryLimit": 256})
        with pytest.raises(ConfigurationError) as caught:
            await engine.execute(config, {}, backend="no-such-backend")
        assert list(caught.value.warnings) == config.warnings

    async def test_an_execution_refused_by_shutdown_carries_the_warnings(
        self, engine: Engine
    ) -> None:
        """An execution refused because the engine is shutting down carries them too."""
        config = parse_config({"language": "python", "code": "return 1", "memoryLimit": 256})
        engine.refuse()
        with pytest.raises(InfrastructureError) as caught:
            await engine.execute(config, {}, backend="local-subprocess")
        assert list(caught.value.warnings) == config.warnings


HOST_KEY = "HostKey" + "7e6d5c4b3a291807"


class TestEnvelopeScrubbing:
    async def test_a_host_secret_in_the_result_is_replaced_and_reported(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """E2B_API_KEY's value in the output, stdout, stderr and logs comes back as
        `[redacted]`, and a warning names the fields (never the value)."""
        monkeypatch.setenv("E2B_API_KEY", HOST_KEY)
        code = (
            "import sys\nprint(value)\nprint('e', value, file=sys.stderr)\n"
            "return {value: [value, 'http://u:pw@h/?q=1']}"
        )
        config = parse_config({"language": "python", "code": code})
        with capture_logs() as logs:
            envelope = await engine.execute(config, {"value": HOST_KEY}, backend="local-subprocess")
        assert HOST_KEY not in repr(envelope)
        assert envelope.output == {"[redacted]": ["[redacted]", "http://u:pw@h/?q=1"]}
        assert envelope.stdout == "[redacted]\n"
        [warning] = [e for e in logs if e["event"] == "secret_redacted_from_result"]
        assert warning["fields"] == ["logs", "output", "stderr", "stdout"]
        assert HOST_KEY not in repr(logs)

    async def test_a_result_without_a_secret_is_left_as_the_code_made_it(
        self, engine: Engine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """URLs with credentials and key-shaped text the code returns are its own data."""
        monkeypatch.setenv("E2B_API_KEY", HOST_KEY)
        value = "http://u:pw@h/?token=t e2b_" + "a1B2c3D4e5F6g7H8i9J0"
        config = parse_config({"language": "python", "code": "print(value)\nreturn value"})
        with capture_logs() as logs:
            envelope = await engine.execute(config, {"value": value}, backend="local-subprocess")
        assert (envelope.output, envelope.stdout) == (value, value + "\n")
        assert not [e for e in logs if e["event"] == "secret_redacted_from_result"]


class TestBackendOptionsAtStart:
    def test_flag_file_with_a_misspelt_option_refuses_to_start(self, tmp_path: Path) -> None:
        """An engine does not start on a flag file whose backend options hold a typo."""
        path = tmp_path / "flags.toml"
        path.write_text(MISSPELT, encoding="utf-8")
        with pytest.raises(FlagFileError) as caught:
            Engine("prod", flags_path=path)
        assert str(caught.value.problems[0]) == (
            f"{path}:5: environments.prod.backends.e2b.pool_sise: unknown key "
            "(did you mean 'pool_size'?)"
        )

    def test_given_flags_with_a_misspelt_option_are_refused(self) -> None:
        """Flags handed to an engine already parsed get their options checked too."""
        flags = parse_flags(MISSPELT, source="given.toml")
        with pytest.raises(FlagFileError, match=r"backends\.e2b\.pool_sise: unknown key"):
            Engine("prod", flags=flags)


class Explosive:
    """A backend whose constructor has a bug."""

    id: ClassVar[str] = "explosive"
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = "its constructor raises"

    def __init__(self, settings: BackendSettings) -> None:
        raise RuntimeError("constructor exploded")


class ExplosivePlugin:
    __name__ = "explosive-plugin"

    @staticmethod
    @hookimpl
    def turnout_register_backends(registry: Any) -> None:
        registry.add(Explosive)


class HalfPlugin:
    """A plugin that registers a backend and then breaks."""

    __name__ = "half-plugin"

    @staticmethod
    @hookimpl
    def turnout_register_backends(registry: Any) -> None:
        registry.add(type("Half", (), {"id": "half", "description": "registered, then broke"}))
        raise RuntimeError("plugin setup failed")


class TestBrokenPlugins:
    async def test_constructor_bug_makes_only_that_backend_unavailable(self) -> None:
        """A constructor raising RuntimeError: describe_backends lists that backend
        unavailable with the error class and message, and describes the others."""
        engine = Engine("test", registry=discover(extra_plugins=[ExplosivePlugin()]))
        described = {backend.id: backend for backend in engine.describe_backends()}
        await engine.aclose()
        reason = described["explosive"].unavailable_reason
        assert reason is not None
        assert "RuntimeError: constructor exploded" in reason
        assert described["local-subprocess"].unavailable_reason is None
        assert described["local-subprocess"].capabilities is not None

    async def test_flag_file_naming_a_broken_plugins_backend_still_starts(
        self, tmp_path: Path
    ) -> None:
        """An engine starts on flags whose target is a broken plugin's backend: the other
        backends run, and that one is a ConfigurationError naming the plugin."""
        path = tmp_path / "flags.toml"
        path.write_text(
            'schema_version = 1\n[environments.prod]\nstage = "live"\ntarget_backend = "half"\n',
            encoding="utf-8",
        )
        engine = Engine("prod", flags_path=path, registry=discover(extra_plugins=[HalfPlugin()]))
        config = parse_config({"language": "python", "code": "return 1"})
        try:
            envelope = await engine.execute(config, {}, backend="local-subprocess")
            with pytest.raises(ConfigurationError) as caught:
                await engine.execute(config, {}, backend="half")
        finally:
            await engine.aclose()
        assert envelope.output == 1
        assert "plugin 'half-plugin'" in caught.value.message
        assert "RuntimeError: plugin setup failed" in caught.value.message


class TestRolloutIds:
    async def test_without_ids_every_execution_gets_the_default_stage(self) -> None:
        """With half the buckets in shadow, executions without ids all get `stage` (they
        were bucketed by turnout's random execution id and changed stage per call)."""
        flags = parse_flags(
            'schema_version = 1\n[environments.test]\nstage = "off"\n'
            "[environments.test.rollout]\nshadow = 50\n"
        )
        engine = Engine("test", flags=flags)
        config = parse_config({"language": "python", "code": "return 1"})
        try:
            with capture_logs() as logs:
                for _ in range(16):
                    await engine.execute(config, {})
        finally:
            await engine.aclose()
        stages = {e["stage"] for e in logs if e["event"] == "code_node_executed"}
        assert stages == {"off"}

    async def test_ids_are_labels_and_parameters_win(self, engine: Engine) -> None:
        """The ids become the labels tenant, workflow and execution; a parameter wins over
        a label of the same name, and other labels are kept."""
        config = parse_config({"language": "python", "code": "return 1"})
        with capture_logs() as logs:
            await engine.execute(
                config,
                {},
                labels={"tenant": "old", "node": "n-1"},
                tenant_id="t-1",
                workflow_id="wf-1",
                execution_id="run-1",
            )
        [event] = [e for e in logs if e["event"] == "code_node_executed"]
        labels = {key: value for key, value in event.items() if key.startswith("label_")}
        assert labels == {
            "label_tenant": "t-1",
            "label_node": "n-1",
            "label_workflow": "wf-1",
            "label_execution": "run-1",
        }


class TestExecute:
    async def test_a_stored_node_and_a_context_give_the_typed_envelope(
        self, engine: Engine
    ) -> None:
        """`execute` takes the stored config and the workflow context: it selects the
        node's inputs and returns the `Envelope`, wrapped in its outputVariable on the wire."""
        node = {
            "language": "python",
            "code": "return a",
            "inputVariables": ["a"],
            "outputVariable": "out",
        }
        envelope = await engine.execute(node, {"a": 1, "b": 2}, backend="local-subprocess")
        assert (envelope.output, envelope.output_variable) == (1, "out")
        assert list(envelope.to_dict()) == ["out"]

    async def test_a_context_nested_too_deep_is_refused_before_any_backend(
        self, engine: Engine
    ) -> None:
        """The limits are checked first: a too-deep context is a `ValidationError` on
        `context`, and no run (no `code_node_executed`) happens."""
        deep: object = 1
        for _ in range(MAX_DEPTH + 1):
            deep = [deep]
        with capture_logs() as logs, pytest.raises(ValidationError) as caught:
            await engine.execute({"language": "python", "code": "return 1"}, {"x": deep})
        assert caught.value.field.startswith("context")
        assert [e for e in logs if e["event"] == "code_node_executed"] == []

    async def test_a_rollout_id_that_is_not_a_string_is_refused(self, engine: Engine) -> None:
        """A rollout id must be a non-empty string: the error names the parameter."""
        with pytest.raises(ValidationError) as caught:
            await engine.execute(
                {"language": "python", "code": "return 1"},
                {},
                tenant_id=42,  # type: ignore[arg-type]
            )
        assert caught.value.field == "tenant_id"


class TestShutdown:
    async def test_shutdown_interrupts_what_runs_and_refuses_what_comes(self) -> None:
        """`Engine.shutdown` cancels the execution in flight (a retryable
        `ExecutionInterruptedError`), says how many it cancelled, and refuses later ones."""
        engine = Engine("test")
        slow = {"language": "python", "code": "import time\ntime.sleep(30)\nreturn 1"}
        call = asyncio.create_task(engine.execute(slow, {}, backend="local-subprocess"))
        await asyncio.sleep(0)  # the call runs up to its backend: in flight from now on
        assert engine.in_flight.count == 1
        assert await engine.shutdown(0.0) == 1
        with pytest.raises(ExecutionInterruptedError):
            await call
        with pytest.raises(InfrastructureError) as refused:
            await engine.execute(slow, {}, backend="local-subprocess")
        assert (refused.value.retryable, refused.value.started) == (True, False)
