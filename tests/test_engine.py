"""The engine: one log event per execution, without user data; capability checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from turnout import CodeExecutionError, Engine, ValidationError, parse_config
from turnout.backend import ExecutionBackend
from turnout.flags import FlagFileError, parse_flags

SECRET_INPUT = "input-value-that-must-not-be-logged"
SECRET_CODE = "marker_in_code_never_logged = 1"
MISSPELT = (
    'schema_version = 1\n[environments.prod]\nstage = "off"\n'
    "[environments.prod.backends.e2b]\npool_sise = 4\n"
)


async def run(engine: Engine, code: str, language: str = "python") -> dict[str, object]:
    config = parse_config({"language": language, "code": f"{SECRET_CODE}\n{code}"})
    return await engine.run(
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


class TestCapabilityChecks:
    def test_timeout_above_the_backends_maximum_is_refused(self) -> None:
        """A node asking for more time than the backend allows fails validation on timeout."""
        from turnout.engine import _check_capabilities

        caps = Engine("test").backend("local-subprocess").capabilities
        narrowed = caps.model_copy(update={"max_timeout_ms": 10_000})
        config = parse_config({"language": "python", "code": "1", "timeout": 20_000})
        with pytest.raises(ValidationError) as caught:
            _check_capabilities(config, "local-subprocess", narrowed)
        assert caught.value.field == "timeout"

    async def test_unknown_backend_is_a_configuration_error(self, engine: Engine) -> None:
        """Asking for a backend nobody registered names the registered ones."""
        from turnout import ConfigurationError

        config = parse_config({"language": "python", "code": "1"})
        with pytest.raises(ConfigurationError, match="local-subprocess"):
            await engine.run(config, {}, backend="no-such-backend")

    def test_validation_error_is_raised_for_unsupported_language(self) -> None:
        """The capability check names the language field (checked directly)."""
        from turnout.engine import _check_capabilities

        backend_caps = Engine("test").backend("local-subprocess").capabilities
        narrowed = backend_caps.model_copy(update={"languages": frozenset({"python"})})
        config = parse_config({"language": "javascript", "code": "1"})
        with pytest.raises(ValidationError) as caught:
            _check_capabilities(config, "local-subprocess", narrowed)
        assert caught.value.field == "language"


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
