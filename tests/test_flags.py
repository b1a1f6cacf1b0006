"""Tests for turnout.flags: strict validation of feature_flags.toml and environment choice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from turnout.errors import ConfigurationError
from turnout.flags import (
    ENVIRONMENT_VARIABLE,
    FLAGS_FILE_VARIABLE,
    EnvironmentFlags,
    FlagFile,
    current_environment,
    load_flags,
    locate_flags_file,
    parse_flags,
)

REPOSITORY_FLAGS = Path(__file__).resolve().parents[1] / "feature_flags.toml"
SOURCE = "flags.toml"

VALID = """\
schema_version = 1

[environments.development]
stage = "off"
legacy_allowed = true

[environments.production]
stage = "complete"
legacy_allowed = false

[environments.production.backends.e2b]
template = "base"
pool_size = 4
"""


def flag_error(text: str) -> str:
    """The message of the ConfigurationError that parse_flags raises for `text`."""
    with pytest.raises(ConfigurationError) as caught:
        parse_flags(text, source=SOURCE)
    return caught.value.message


class TestParseFlagsValid:
    def test_environments_read(self) -> None:
        """A valid document yields every environment with its stage and legacy flag."""
        flags = parse_flags(VALID, source=SOURCE)
        assert sorted(flags.environments) == ["development", "production"]
        assert flags.environments["development"].stage == "off"
        assert flags.environments["development"].legacy_allowed is True
        assert flags.environments["production"].stage == "complete"
        assert flags.environments["production"].legacy_allowed is False

    def test_backend_ids_default(self) -> None:
        """Without legacy_backend and target_backend, they are local-subprocess and e2b."""
        development = parse_flags(VALID).environments["development"]
        assert (development.legacy_backend, development.target_backend) == (
            "local-subprocess",
            "e2b",
        )

    @pytest.mark.parametrize(
        ("stage", "expected"),
        [("off", "local-subprocess"), ("shadow", "local-subprocess"), ("live", "e2b")],
    )
    def test_backend_is_the_default_stage_authority(self, stage: str, expected: str) -> None:
        """`backend` (schema v0's key, now derived) is the default stage's authoritative id."""
        flags = parse_flags(f'schema_version = 1\n[environments.dev]\nstage = "{stage}"\n')
        assert flags.environments["dev"].backend == expected

    def test_backend_follows_kill_switch(self) -> None:
        """With legacy killed, `backend` is the target even at stage off."""
        text = 'schema_version = 1\n[environments.dev]\nstage = "off"\nlegacy_allowed = false\n'
        assert parse_flags(text).environments["dev"].backend == "e2b"

    def test_legacy_may_load(self) -> None:
        """Legacy may load where it is allowed and some reachable stage uses it."""
        flags = parse_flags(VALID)
        assert flags.environments["development"].legacy_may_load is True
        assert flags.environments["production"].legacy_may_load is False

    def test_rampdown_keeps_legacy_loadable_as_the_way_back(self) -> None:
        """In rampdown no decision uses legacy, but it may still load for a quick way back."""
        text = 'schema_version = 1\n[environments.dev]\nstage = "rampdown"\n'
        assert parse_flags(text).environments["dev"].legacy_may_load is True

    def test_complete_everywhere_means_legacy_may_not_load(self) -> None:
        """At complete with no other reachable stage, legacy may not load even if allowed."""
        text = 'schema_version = 1\n[environments.dev]\nstage = "complete"\n'
        assert parse_flags(text).environments["dev"].legacy_may_load is False

    def test_rollout_group_defaults_to_environment(self) -> None:
        """The rollout group is turnout.<environment> unless set."""
        assert parse_flags(VALID).environments["production"].rollout_group_id == (
            "turnout.production"
        )

    def test_schema_version(self) -> None:
        """schema_version 1 is read."""
        assert parse_flags(VALID).schema_version == 1

    def test_source_recorded(self) -> None:
        """The source name given is kept on the result."""
        assert parse_flags(VALID, source=SOURCE).source == SOURCE

    def test_source_defaults_to_memory(self) -> None:
        """Without a source, the result says it came from memory."""
        assert parse_flags(VALID).source == "<memory>"

    def test_backend_options(self) -> None:
        """Per-backend options are available by backend id."""
        production = parse_flags(VALID).environments["production"]
        assert production.options_for("e2b") == {"template": "base", "pool_size": 4}

    def test_backend_options_missing_is_empty(self) -> None:
        """A backend without an options table has empty options."""
        assert parse_flags(VALID).environments["development"].options_for("e2b") == {}

    def test_options_for_is_a_copy(self) -> None:
        """Changing the returned options does not change the flags."""
        production = parse_flags(VALID).environments["production"]
        production.options_for("e2b")["template"] = "changed"
        assert production.options_for("e2b")["template"] == "base"

    def test_legacy_allowed_defaults_true(self) -> None:
        """An environment that does not mention legacy_allowed allows legacy."""
        flags = parse_flags('schema_version = 1\n[environments.dev]\nstage = "off"\n')
        assert flags.environments["dev"].legacy_allowed is True

    def test_result_is_frozen(self) -> None:
        """Parsed flags cannot be changed in place."""
        flags = parse_flags(VALID)
        with pytest.raises(ValueError, match="frozen"):
            flags.schema_version = 1


class TestParseFlagsErrors:
    def test_invalid_toml(self) -> None:
        """Text that is not TOML is refused, naming the source and the line."""
        message = flag_error("schema_version = 1\n[environments.development\n")
        assert message.startswith(f"{SOURCE}:2: not valid TOML: Expected ']'")

    def test_unknown_top_level_key(self) -> None:
        """An unknown top-level key is reported with the file, its line and its name."""
        text = 'schema_version = 1\nbogus = 1\n[environments.dev]\nstage = "off"\n'
        assert flag_error(text) == f"{SOURCE}:2: bogus: unknown key"

    def test_unknown_key_in_environment(self) -> None:
        """An unknown key inside an environment is reported with its full key path, its line
        and the key it most likely meant."""
        text = 'schema_version = 1\n[environments.dev]\nstage = "off"\nstag = "y"\n'
        assert flag_error(text) == (
            f"{SOURCE}:4: environments.dev.stag: unknown key (did you mean 'stage'?)"
        )

    def test_wrong_type_for_legacy_allowed(self) -> None:
        """A string where legacy_allowed wants a boolean is refused with the key path."""
        text = 'schema_version = 1\n[environments.dev]\nstage = "off"\nlegacy_allowed = "no"\n'
        message = flag_error(text)
        assert message.startswith(f"{SOURCE}:4: environments.dev.legacy_allowed:")
        assert "boolean" in message

    def test_missing_stage(self) -> None:
        """An environment without stage is refused, naming the key path as required."""
        text = "schema_version = 1\n[environments.dev]\nlegacy_allowed = true\n"
        message = flag_error(text)
        assert message.startswith(SOURCE)
        assert "environments.dev.stage: is required" in message

    def test_empty_backend(self) -> None:
        """An empty backend id is refused."""
        text = 'schema_version = 1\n[environments.dev]\nstage = "off"\ntarget_backend = ""\n'
        assert "environments.dev.target_backend" in flag_error(text)

    def test_schema_version_2(self) -> None:
        """A future schema version is refused, naming the key and its line."""
        message = flag_error('schema_version = 2\n[environments.dev]\nstage = "off"\n')
        assert message.startswith(f"{SOURCE}:1: schema_version:")

    def test_missing_schema_version(self) -> None:
        """A file without schema_version is refused."""
        message = flag_error('[environments.dev]\nstage = "off"\n')
        assert "schema_version: is required" in message

    def test_environments_not_a_table(self) -> None:
        """environments must be a table of tables."""
        message = flag_error("schema_version = 1\nenvironments = 3\n")
        assert message.startswith(f"{SOURCE}:2: environments:")

    def test_backend_options_not_a_table(self) -> None:
        """Options for a backend must be a table."""
        text = 'schema_version = 1\n[environments.dev]\nstage = "off"\nbackends = { e2b = 3 }\n'
        assert "environments.dev.backends.e2b" in flag_error(text)

    def test_all_problems_reported_at_once(self) -> None:
        """Several problems are all reported in one error."""
        text = 'schema_version = 2\nbogus = 1\n[environments.dev]\nstage = "off"\n'
        message = flag_error(text)
        assert "schema_version" in message
        assert "bogus: unknown key" in message

    def test_error_not_chained(self) -> None:
        """The pydantic report behind the error is suppressed."""
        with pytest.raises(ConfigurationError) as caught:
            parse_flags("schema_version = 2\nenvironments = {}\n")
        assert caught.value.__suppress_context__ is True

    def test_line_of_key_in_later_environment(self) -> None:
        """A bad key in a later environment is reported at its own line, not an earlier twin."""
        text = (
            "schema_version = 1\n"
            "[environments.development]\n"
            'stage = "off"\n'
            "legacy_allowed = true\n"
            "[environments.production]\n"
            'stage = "off"\n'
            'legacy_allowed = "no"\n'
        )
        message = flag_error(text)
        assert message.startswith(f"{SOURCE}:7: environments.production.legacy_allowed:")

    def test_missing_key_not_located_at_another_environment(self) -> None:
        """A key missing from one environment is not reported at another environment's line."""
        text = (
            "schema_version = 1\n"
            "[environments.development]\n"
            'stage = "off"\n'
            "[environments.staging]\n"
            "legacy_allowed = false\n"
        )
        message = flag_error(text)
        # acceptable: no line at all, or the line of the [environments.staging] header
        assert re.match(rf"{re.escape(SOURCE)}(:4)?: environments\.staging\.stage", message)

    def test_top_level_source_key_is_unknown(self) -> None:
        """`source` is not a key of the file format, so writing it is an unknown key."""
        text = 'schema_version = 1\nsource = "elsewhere"\n[environments.dev]\nstage = "off"\n'
        assert flag_error(text) == f"{SOURCE}:2: source: unknown key"


class TestFlagFileEnvironment:
    def test_known_environment(self) -> None:
        """environment() returns the named environment's flags."""
        flags = parse_flags(VALID)
        assert isinstance(flags.environment("production"), EnvironmentFlags)
        assert flags.environment("production").stage == "complete"

    def test_unknown_environment_names_defined_ones(self) -> None:
        """An unknown environment is a ConfigurationError naming the file and the defined ones."""
        flags = parse_flags(VALID, source=SOURCE)
        with pytest.raises(ConfigurationError) as caught:
            flags.environment("qa")
        message = caught.value.message
        assert message.startswith(f"{SOURCE}: no environment 'qa'")
        assert "defined: development, production" in message
        assert ENVIRONMENT_VARIABLE in message


class TestLocateAndLoadFlags:
    def test_load_from_path(self, tmp_path: Path) -> None:
        """load_flags reads the given file and records its path as the source."""
        path = tmp_path / "flags.toml"
        path.write_text(VALID, encoding="utf-8")
        flags = load_flags(path)
        assert flags.source == str(path)
        assert flags.environment("development").stage == "off"

    def test_load_errors_name_the_file(self, tmp_path: Path) -> None:
        """A problem in a loaded file names that file's path."""
        path = tmp_path / "flags.toml"
        path.write_text("schema_version = 2\nenvironments = {}\n", encoding="utf-8")
        with pytest.raises(ConfigurationError, match=re.escape(str(path))):
            load_flags(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is a ConfigurationError naming the path and the variable to set."""
        path = tmp_path / "absent.toml"
        with pytest.raises(ConfigurationError) as caught:
            load_flags(path)
        assert str(path) in caught.value.message
        assert FLAGS_FILE_VARIABLE in caught.value.message

    def test_directory_is_not_a_file(self, tmp_path: Path) -> None:
        """A directory where the file should be is treated as missing."""
        with pytest.raises(ConfigurationError, match="not found"):
            locate_flags_file(tmp_path)

    def test_located_from_environment_variable(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without an explicit path, TURNOUT_FLAGS_FILE is used."""
        path = tmp_path / "custom.toml"
        path.write_text(VALID, encoding="utf-8")
        monkeypatch.setenv(FLAGS_FILE_VARIABLE, str(path))
        assert locate_flags_file() == path

    def test_located_in_current_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a path or variable, feature_flags.toml in the current directory is used."""
        (tmp_path / "feature_flags.toml").write_text(VALID, encoding="utf-8")
        monkeypatch.delenv(FLAGS_FILE_VARIABLE, raising=False)
        monkeypatch.chdir(tmp_path)
        assert locate_flags_file() == Path("feature_flags.toml")

    def test_explicit_path_beats_environment_variable(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An explicit path wins over TURNOUT_FLAGS_FILE."""
        explicit = tmp_path / "explicit.toml"
        explicit.write_text(VALID, encoding="utf-8")
        monkeypatch.setenv(FLAGS_FILE_VARIABLE, str(tmp_path / "absent.toml"))
        assert locate_flags_file(explicit) == explicit


class TestCurrentEnvironment:
    def test_default_is_development(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without TURNOUT_ENV or an explicit value, the environment is development."""
        monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
        assert current_environment() == "development"

    def test_environment_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """TURNOUT_ENV chooses the environment."""
        monkeypatch.setenv(ENVIRONMENT_VARIABLE, "staging")
        assert current_environment() == "staging"

    def test_empty_environment_variable_means_default(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An empty TURNOUT_ENV falls back to development."""
        monkeypatch.setenv(ENVIRONMENT_VARIABLE, "")
        assert current_environment() == "development"

    def test_explicit_beats_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An explicit environment wins over TURNOUT_ENV."""
        monkeypatch.setenv(ENVIRONMENT_VARIABLE, "staging")
        assert current_environment("production") == "production"


class TestRepositoryFlagFile:
    def test_is_valid(self) -> None:
        """The shipped feature_flags.toml validates."""
        assert isinstance(load_flags(REPOSITORY_FLAGS), FlagFile)

    def test_defines_expected_environments(self) -> None:
        """The shipped file defines development, test, staging and production."""
        environments = set(load_flags(REPOSITORY_FLAGS).environments)
        assert {"development", "test", "staging", "production"} <= environments
