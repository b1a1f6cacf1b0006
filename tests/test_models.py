"""Tests for turnout.models: the stored node config and the backend data shapes."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.errors import ValidationError
from turnout.models import (
    MAX_TIMEOUT_MS,
    Capabilities,
    CodeNodeConfig,
    ExecutionRequest,
    ExecutionResult,
    parse_config,
    parse_labels,
)

KNOWN_FIELDS = (
    "language",
    "code",
    "timeout",
    "memory",
    "inputVariables",
    "outputVariable",
    "allowNetworkAccess",
    "allowFileSystemAccess",
)

LEGACY_CONFIG: dict[str, Any] = {
    "language": "javascript",
    "code": "return { sum: numbers.reduce((a, b) => a + b, 0) };",
    "timeout": 45000,
    "memory": 256,
    "inputVariables": ["numbers", "data"],
    "outputVariable": "summary",
    "allowNetworkAccess": True,
    "allowFileSystemAccess": False,
}


def minimal(**overrides: Any) -> dict[str, Any]:
    """A valid stored config with the given fields added or replaced."""
    return {"language": "python", "code": "result = 1", **overrides}


def rejected_field(raw: object) -> str:
    """The `field` of the ValidationError that parse_config raises for `raw`."""
    with pytest.raises(ValidationError) as caught:
        parse_config(raw)
    return caught.value.field


class TestParseConfigAccepts:
    def test_legacy_config_exactly(self) -> None:
        """A fully populated legacy config (camelCase names) is read field by field."""
        config = parse_config(dict(LEGACY_CONFIG))
        assert config.language == "javascript"
        assert config.code == LEGACY_CONFIG["code"]
        assert config.timeout == 45000
        assert config.memory == 256
        assert config.input_variables == ["numbers", "data"]
        assert config.output_variable == "summary"
        assert config.allow_network_access is True
        assert config.allow_file_system_access is False

    def test_legacy_config_has_no_warnings(self) -> None:
        """A clean legacy config produces no warnings and no unknown fields."""
        config = parse_config(dict(LEGACY_CONFIG))
        assert config.warnings == []
        assert config.unknown_fields == []

    def test_defaults(self) -> None:
        """Missing optional fields take the legacy defaults: 30000 ms, 128 MB, all inputs."""
        config = parse_config(minimal())
        assert config.timeout == 30_000
        assert config.memory == 128
        assert config.input_variables == []
        assert config.output_variable is None
        assert config.allow_network_access is False
        assert config.allow_file_system_access is False

    def test_python_language(self) -> None:
        """python is an accepted language."""
        assert parse_config(minimal(language="python")).language == "python"

    def test_null_input_variables_means_all(self) -> None:
        """inputVariables: null is read as the empty list (the whole context)."""
        assert parse_config(minimal(inputVariables=None)).input_variables == []

    def test_empty_output_variable_means_unset(self) -> None:
        """outputVariable: "" is read as no output variable."""
        assert parse_config(minimal(outputVariable="")).output_variable is None

    def test_null_output_variable_means_unset(self) -> None:
        """outputVariable: null is read as no output variable."""
        assert parse_config(minimal(outputVariable=None)).output_variable is None

    @pytest.mark.parametrize("name", ["x", "_private", "summary_2", "Result", "_"])
    def test_identifier_output_variable(self, name: str) -> None:
        """Any identifier is an acceptable outputVariable."""
        assert parse_config(minimal(outputVariable=name)).output_variable == name

    @pytest.mark.parametrize("timeout", [1, 999, 1000, MAX_TIMEOUT_MS])
    def test_timeout_bounds_inclusive(self, timeout: int) -> None:
        """Timeouts from 1 to MAX_TIMEOUT_MS inclusive are accepted as milliseconds."""
        assert parse_config(minimal(timeout=timeout)).timeout == timeout

    @pytest.mark.parametrize("memory", [1, 512])
    def test_memory_bounds_inclusive(self, memory: int) -> None:
        """Memory from 1 to 512 MB inclusive is accepted."""
        assert parse_config(minimal(memory=memory)).memory == memory

    def test_existing_config_passes_through(self) -> None:
        """An already-parsed CodeNodeConfig is returned as it is."""
        config = parse_config(minimal())
        assert parse_config(config) is config

    def test_config_is_frozen(self) -> None:
        """A parsed config cannot be changed afterwards."""
        config = parse_config(minimal())
        with pytest.raises(pydantic.ValidationError):
            config.timeout = 5  # type: ignore[misc]


class TestParseConfigUnknownFields:
    def test_unknown_field_is_accepted(self) -> None:
        """A stored config with the UI's memoryLimit is accepted."""
        config = parse_config(minimal(memoryLimit=256))
        assert isinstance(config, CodeNodeConfig)

    def test_unknown_fields_listed_sorted(self) -> None:
        """unknown_fields lists every unknown stored name, sorted."""
        config = parse_config(minimal(memoryLimit=256, color="red"))
        assert config.unknown_fields == ["color", "memoryLimit"]

    def test_unknown_field_reported_in_warnings(self) -> None:
        """Each unknown field yields a warning naming it."""
        config = parse_config(minimal(memoryLimit=256))
        assert any("memoryLimit" in warning for warning in config.warnings)

    def test_unknown_field_never_used(self) -> None:
        """memoryLimit does not change memory (which keeps its default)."""
        assert parse_config(minimal(memoryLimit=256)).memory == 128

    def test_snake_case_name_is_unknown_not_used(self) -> None:
        """input_variables (python spelling) is not the stored name: it is unknown and unused."""
        config = parse_config(minimal(input_variables=["a"]))
        assert config.input_variables == []
        assert config.unknown_fields == ["input_variables"]


class TestParseConfigTimeoutWarning:
    def test_small_timeout_warns_about_milliseconds(self) -> None:
        """A timeout under 1000 is kept but warns that timeouts are milliseconds."""
        config = parse_config(minimal(timeout=30))
        assert config.timeout == 30
        assert any("milliseconds" in warning for warning in config.warnings)

    def test_small_timeout_warning_suggests_seconds_conversion(self) -> None:
        """The warning suggests the value an editor that stored seconds meant."""
        config = parse_config(minimal(timeout=30))
        assert any("30000" in warning for warning in config.warnings)

    def test_timeout_of_1000_does_not_warn(self) -> None:
        """1000 ms is not suspicious and produces no warning."""
        assert parse_config(minimal(timeout=1000)).warnings == []


class TestParseConfigRejects:
    def test_lone_surrogate_in_code_is_refused_naming_code(self) -> None:
        """Code must be valid Unicode text; a raw lone surrogate is a ValidationError on `code`."""
        with pytest.raises(ValidationError) as caught:
            parse_config({"language": "python", "code": "x = '\ud800'"})
        assert caught.value.field == "code"

    def test_typescript_rejected_on_language(self) -> None:
        """A typescript node is refused with a ValidationError on `language`."""
        assert rejected_field(minimal(language="typescript")) == "language"

    def test_typescript_error_says_what_to_do(self) -> None:
        """The typescript refusal says which languages are allowed."""
        with pytest.raises(ValidationError) as caught:
            parse_config(minimal(language="typescript"))
        assert caught.value.allowed is not None
        assert "javascript" in caught.value.allowed

    @pytest.mark.parametrize("raw", [None, [], "config", 3, ["language", "python"]])
    def test_non_dict_rejected(self, raw: object) -> None:
        """Anything but a JSON object is refused on the field `config`."""
        assert rejected_field(raw) == "config"

    def test_missing_language(self) -> None:
        """A config without language is refused on `language`."""
        assert rejected_field({"code": "x"}) == "language"

    def test_missing_code(self) -> None:
        """A config without code is refused on `code` and says it is required."""
        with pytest.raises(ValidationError) as caught:
            parse_config({"language": "python"})
        assert caught.value.field == "code"
        assert "required" in caught.value.problem

    def test_all_problems_in_message(self) -> None:
        """When several fields are wrong, the message lists each of them."""
        with pytest.raises(ValidationError) as caught:
            parse_config({"timeout": 0})
        message = caught.value.message
        assert "language" in message
        assert "code" in message
        assert "timeout" in message

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("language", "ruby"),
            ("language", 1),
            ("code", ""),
            ("code", 5),
            ("timeout", 0),
            ("timeout", MAX_TIMEOUT_MS + 1),
            ("timeout", "30000"),
            ("timeout", 30000.5),
            ("timeout", True),
            ("memory", 0),
            ("memory", 513),
            ("memory", "128"),
            ("inputVariables", "data"),
            ("outputVariable", 5),
            ("allowNetworkAccess", "yes"),
            ("allowFileSystemAccess", 1),
        ],
    )
    def test_bad_value_named_by_stored_field(self, field: str, value: object) -> None:
        """Every bad value raises ValidationError whose field is the stored camelCase name."""
        assert rejected_field(minimal(**{field: value})) == field

    def test_bad_list_item_named_by_index(self) -> None:
        """A non-string input variable is named by its index in the stored list."""
        assert rejected_field(minimal(inputVariables=["a", 2])) == "inputVariables.1"

    @pytest.mark.parametrize(
        "name", ["1abc", "my-var", "a b", "é", "a.b", "$x", " x", "summary\n", "x\ny"]
    )
    def test_output_variable_must_be_identifier(self, name: str) -> None:
        """outputVariable must match ^[A-Za-z_][A-Za-z0-9_]*$ as a whole, trailing newline too."""
        assert rejected_field(minimal(outputVariable=name)) == "outputVariable"

    def test_allowed_hint_for_timeout(self) -> None:
        """A bad timeout says what range of milliseconds is allowed."""
        with pytest.raises(ValidationError) as caught:
            parse_config(minimal(timeout=0))
        assert caught.value.allowed is not None
        assert str(MAX_TIMEOUT_MS) in caught.value.allowed

    def test_error_not_chained_to_pydantic(self) -> None:
        """The pydantic report is not chained, so callers see one turnout error."""
        with pytest.raises(ValidationError) as caught:
            parse_config(minimal(timeout=0))
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__ is True


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=10,
)

VALID_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "language": st.sampled_from(["javascript", "python", "typescript"]),
    "code": st.text(max_size=20),
    "timeout": st.integers(min_value=-10, max_value=MAX_TIMEOUT_MS + 10),
    "memory": st.integers(min_value=-10, max_value=600),
    "inputVariables": st.none() | st.lists(st.text(max_size=6) | st.integers(), max_size=4),
    "outputVariable": st.none() | st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}") | st.text(),
    "allowNetworkAccess": st.booleans(),
    "allowFileSystemAccess": st.booleans(),
}


@st.composite
def stored_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Dicts mixing valid and invalid values for known fields, plus random extra keys."""
    config: dict[str, Any] = {}
    for name in KNOWN_FIELDS:
        choice = draw(st.sampled_from(["absent", "plausible", "anything"]))
        if choice == "plausible":
            config[name] = draw(VALID_VALUES[name])
        elif choice == "anything":
            config[name] = draw(json_values)
    extras = draw(
        st.dictionaries(
            st.text(max_size=10).filter(lambda key: key not in KNOWN_FIELDS),
            json_values,
            max_size=3,
        )
    )
    config.update(extras)
    return config


class TestParseConfigProperties:
    @settings(max_examples=300, deadline=None)
    @given(stored_configs())
    def test_only_config_or_turnout_validation_error(self, raw: dict[str, Any]) -> None:
        """Any JSON-like dict yields a config or a ValidationError naming a known field."""
        try:
            config = parse_config(raw)
        except ValidationError as error:
            field = error.field
        else:
            assert isinstance(config, CodeNodeConfig)
            return
        assert isinstance(field, str)
        assert field
        assert field.split(".")[0] in (*KNOWN_FIELDS, "config")

    @settings(max_examples=200, deadline=None)
    @given(stored_configs())
    def test_unknown_fields_are_exactly_the_extra_keys(self, raw: dict[str, Any]) -> None:
        """When a config parses, unknown_fields is exactly its keys outside the known names."""
        try:
            config = parse_config(raw)
        except ValidationError:
            return
        assert config.unknown_fields == sorted(set(raw) - set(KNOWN_FIELDS))


class TestParseLabels:
    def test_text_labels_pass(self) -> None:
        """Text keys with text values come back as a plain dict."""
        assert parse_labels({"tenant": "acme", "workflow": "wf-1"}) == {
            "tenant": "acme",
            "workflow": "wf-1",
        }

    def test_none_is_no_labels(self) -> None:
        """No labels at all is an empty mapping."""
        assert parse_labels(None) == {}

    @pytest.mark.parametrize(
        ("raw", "field", "problem"),
        [
            ({"tenant": 5}, "labels.tenant", "must be a string, not an integer"),
            ({"tenant": None}, "labels.tenant", "must be a string, not empty (null)"),
            ({7: "x"}, "labels.7", "the key must be a string, not an integer"),
            (["tenant"], "labels", "must be a mapping (table) of keys to values, not a list"),
        ],
    )
    def test_wrong_types_are_named_in_turnouts_words(
        self, raw: object, field: str, problem: str
    ) -> None:
        """Each wrong label names its path and what it must be, without pydantic's text."""
        with pytest.raises(ValidationError) as caught:
            parse_labels(raw)
        assert (caught.value.field, caught.value.problem) == (field, problem)
        assert "errors.pydantic.dev" not in caught.value.message


class TestExecutionRequest:
    def test_defaults(self) -> None:
        """files and labels default to empty."""
        request = ExecutionRequest(
            execution_id="e1",
            language="python",
            program="pass",
            result_path=".turnout/result.json",
            timeout_ms=1000,
            max_result_bytes=10,
        )
        assert request.files == {}
        assert request.labels == {}

    @pytest.mark.parametrize("timeout_ms", [0, MAX_TIMEOUT_MS + 1])
    def test_timeout_bounds(self, timeout_ms: int) -> None:
        """A timeout outside 1..MAX_TIMEOUT_MS is refused."""
        with pytest.raises(pydantic.ValidationError):
            ExecutionRequest(
                execution_id="e1",
                language="python",
                program="pass",
                result_path="r",
                timeout_ms=timeout_ms,
                max_result_bytes=10,
            )


class TestExecutionResult:
    def test_defaults(self) -> None:
        """An empty result means: exited, no output, no result file."""
        result = ExecutionResult()
        assert result.termination == "exited"
        assert result.result is None
        assert result.result_too_large is False
        assert (result.stdout, result.stderr) == ("", "")

    def test_unknown_termination_rejected(self) -> None:
        """Only the four documented terminations are accepted."""
        with pytest.raises(pydantic.ValidationError):
            ExecutionResult(termination="crashed")  # type: ignore[arg-type]


class TestCapabilities:
    def test_safe_defaults(self) -> None:
        """Unless declared, a backend hides the host environment and supports no typescript."""
        capabilities = Capabilities(
            languages=frozenset({"python"}),
            isolation="process",
            network_access=False,
            max_timeout_ms=1000,
            max_output_bytes=10,
            max_result_bytes=10,
            memory_limit_mb=None,
            memory_enforcement="none",
        )
        assert capabilities.host_environment_visible is False
        assert capabilities.supports_typescript is False
        assert capabilities.persistent_filesystem is False
        assert capabilities.code_runs_as_worker_user is False
