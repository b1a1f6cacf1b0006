"""Case files: the schema, the loader's errors, expansion per language, and the shipped cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.conformance.cases import (
    CaseFileError,
    default_cases_dir,
    default_data_dir,
    load_case_file,
    load_cases,
)
from turnout.conformance.requirements import Condition
from turnout.errors import ValidationError
from turnout.models import Capabilities

from .support import CAPABILITIES, one_case, write_cases

TWO_LANGUAGES = """
[[cases]]
id = "t.both"
description = "a case written once for both languages"
config.code.python = "return 1"
config.code.javascript = "return 1;"
config.timeout = 5000
expect = { output = 1 }
expect_by_language.javascript = { output_channel = "return" }
"""


class TestLoadCaseFile:
    def test_a_two_language_case_expands_into_one_case_per_language(self, tmp_path: Path) -> None:
        """config.code as a table gives `<id>.python` and `<id>.javascript`."""
        cases = load_case_file(write_cases(tmp_path, "t", TWO_LANGUAGES))
        assert [(c.id, c.config["language"]) for c in cases] == [
            ("t.both.python", "python"),
            ("t.both.javascript", "javascript"),
        ]

    def test_expansion_keeps_the_other_config_fields(self, tmp_path: Path) -> None:
        """Fields beside code (timeout) are part of each expanded config."""
        cases = load_case_file(write_cases(tmp_path, "t", TWO_LANGUAGES))
        assert {case.config["timeout"] for case in cases} == {5000}

    def test_expect_by_language_is_merged_over_expect(self, tmp_path: Path) -> None:
        """A language's overrides add to the shared expectations instead of replacing them."""
        python, javascript = load_case_file(write_cases(tmp_path, "t", TWO_LANGUAGES))
        assert (python.expect.output, python.expect.output_channel) == (1, None)
        assert (javascript.expect.output, javascript.expect.output_channel) == (1, "return")

    def test_the_theme_is_the_file_stem(self, tmp_path: Path) -> None:
        """Cases of `inputs.toml` belong to theme `inputs`."""
        [case, _] = load_case_file(write_cases(tmp_path, "inputs", TWO_LANGUAGES))
        assert case.theme == "inputs"

    def test_invalid_toml_names_the_file(self, tmp_path: Path) -> None:
        """A syntax error in TOML is reported with the file's path."""
        path = write_cases(tmp_path, "bad", "[[cases]\n")
        with pytest.raises(CaseFileError, match=r"bad\.toml: not valid TOML"):
            load_case_file(path)

    def test_an_unknown_key_names_the_file_the_case_and_the_key(self, tmp_path: Path) -> None:
        """A typo in an expectation is an error, never a silently unchecked field."""
        path = write_cases(
            tmp_path,
            "t",
            """
            [[cases]]
            id = "t.typo"
            description = "d"
            config = { language = "python", code = "return 1" }
            expect = { ouptut = 1 }
            """,
        )
        with pytest.raises(CaseFileError, match=r"t\.toml: case 't\.typo': expect\.ouptut"):
            load_case_file(path)

    def test_a_case_without_an_id_is_named_by_its_position(self, tmp_path: Path) -> None:
        """A case that lacks an id is reported as #N of its file."""
        path = write_cases(tmp_path, "t", '[[cases]]\ndescription = "d"\nconfig = {}\n')
        with pytest.raises(CaseFileError, match=r"case '#1': id"):
            load_case_file(path)

    def test_an_unknown_capability_is_refused(self, tmp_path: Path) -> None:
        """requires may only name fields of Capabilities."""
        path = write_cases(
            tmp_path,
            "t",
            """
            [[cases]]
            id = "t.req"
            description = "d"
            config = { language = "python", code = "return 1" }
            requires = { gpu = true }
            """,
        )
        with pytest.raises(CaseFileError, match="unknown capabilities"):
            load_case_file(path)

    def test_two_output_expectations_are_refused(self, tmp_path: Path) -> None:
        """output and output_json together are ambiguous."""
        path = write_cases(
            tmp_path,
            "t",
            """
            [[cases]]
            id = "t.two"
            description = "d"
            config = { language = "python", code = "return 1" }
            expect = { output = 1, output_json = "1" }
            """,
        )
        with pytest.raises(CaseFileError, match="at most one of output, output_json"):
            load_case_file(path)

    def test_no_survivors_with_an_error_line_is_refused(self, tmp_path: Path) -> None:
        """The survivor prelude moves the code down a line, so the two cannot be combined."""
        path = write_cases(
            tmp_path,
            "t",
            """
            [[cases]]
            id = "t.line"
            description = "d"
            config = { language = "python", code = "raise ValueError()" }
            expect = { no_survivors = true, error = { kind = "runtime", line = 1 } }
            """,
        )
        with pytest.raises(CaseFileError, match="cannot also expect an error line"):
            load_case_file(path)

    def test_an_unknown_placeholder_is_refused(self, tmp_path: Path) -> None:
        """Only {{marker}} and {{cap.<declared limit>}} may appear in code."""
        path = write_cases(
            tmp_path,
            "t",
            """
            [[cases]]
            id = "t.ph"
            description = "d"
            config = { language = "python", code = "return {{cap.gpu_count}}" }
            """,
        )
        with pytest.raises(CaseFileError, match="unknown placeholder"):
            load_case_file(path)

    def test_toml_dates_are_not_json(self, tmp_path: Path) -> None:
        """A TOML date in an expected output is refused (JSON has no dates)."""
        path = write_cases(
            tmp_path,
            "t",
            """
            [[cases]]
            id = "t.date"
            description = "d"
            config = { language = "python", code = "return 1" }
            expect = { output = 2024-01-02 }
            """,
        )
        with pytest.raises(CaseFileError, match="not JSON"):
            load_case_file(path)

    def test_config_json_merges_null_values(self, tmp_path: Path) -> None:
        """config_json carries what TOML cannot, such as inputVariables = null."""
        case = one_case(
            tmp_path,
            """
            [[cases]]
            id = "t.null"
            description = "d"
            config = { language = "python", code = "return 1" }
            config_json = '{"inputVariables": null}'
            """,
        )
        assert case.config["inputVariables"] is None


class TestLoadCases:
    def test_duplicate_ids_across_files_name_both_files(self, tmp_path: Path) -> None:
        """An id may be used once in the whole directory."""
        case = (
            '[[cases]]\nid = "x.same"\ndescription = "d"\n'
            'config = {language = "python", code = "1"}\n'
        )
        write_cases(tmp_path, "a", case)
        write_cases(tmp_path, "b", case)
        with pytest.raises(CaseFileError, match=r"b\.toml: case 'x\.same'.*a\.toml"):
            load_cases(tmp_path)

    def test_an_unknown_theme_is_a_validation_error(self, tmp_path: Path) -> None:
        """Selecting a theme that does not exist is an error, not an empty run."""
        write_cases(tmp_path, "inputs", TWO_LANGUAGES)
        with pytest.raises(ValidationError) as caught:
            load_cases(tmp_path, themes=["inptus"])
        assert caught.value.field == "themes"

    def test_a_case_id_without_language_selects_both(self, tmp_path: Path) -> None:
        """`--case t.both` selects t.both.python and t.both.javascript."""
        write_cases(tmp_path, "t", TWO_LANGUAGES)
        assert len(load_cases(tmp_path, case_ids=["t.both"])) == 2

    def test_an_unknown_case_id_is_a_validation_error(self, tmp_path: Path) -> None:
        """A mistyped case id is reported."""
        write_cases(tmp_path, "t", TWO_LANGUAGES)
        with pytest.raises(ValidationError, match=r"t\.bothh"):
            load_cases(tmp_path, case_ids=["t.bothh"])

    def test_an_empty_directory_is_an_error(self, tmp_path: Path) -> None:
        """A directory without case files is reported, not run as nothing."""
        with pytest.raises(CaseFileError, match="no case files"):
            load_cases(tmp_path)


class TestCase:
    def test_generated_values_may_be_nested(self, tmp_path: Path) -> None:
        """A generator key with dots builds a value inside a nested object."""
        case = one_case(
            tmp_path,
            """
            [[cases]]
            id = "t.gen"
            description = "d"
            config = { language = "python", code = "return 1" }
            context = { file = { name = "a.csv" } }
            generate."file.content" = { kind = "integers", length = 3 }
            """,
        )
        assert case.build_context() == {"file": {"name": "a.csv", "content": [0, 1, 2]}}

    def test_building_the_context_leaves_the_case_unchanged(self, tmp_path: Path) -> None:
        """Each run gets its own context; generated values never leak into the case."""
        case = one_case(
            tmp_path,
            """
            [[cases]]
            id = "t.gen"
            description = "d"
            config = { language = "python", code = "return 1" }
            context = { file = { name = "a.csv" } }
            generate."file.content" = { kind = "text", length = 2 }
            """,
        )
        case.build_context()
        assert case.context == {"file": {"name": "a.csv"}}

    def test_an_undeclared_language_is_an_unmet_requirement(self, tmp_path: Path) -> None:
        """A backend that does not declare the case's language skips it, saying why."""
        case = one_case(
            tmp_path,
            '[[cases]]\nid = "t.js"\ndescription = "d"\n'
            'config = { language = "javascript", code = "1" }\n',
        )
        python_only = CAPABILITIES.model_copy(update={"languages": frozenset({"python"})})
        assert case.unmet(python_only) == "needs language javascript; the backend declares python"

    def test_a_condition_needs_a_declared_value(self) -> None:
        """`declared = true` does not hold for a capability declared as null."""
        assert not Condition(declared=True).holds(None)

    def test_a_bool_requirement_is_not_met_by_an_int(self, tmp_path: Path) -> None:
        """Requirements compare type-strictly: network_access = false is not 0."""
        case = one_case(
            tmp_path,
            '[[cases]]\nid = "t.net"\ndescription = "d"\n'
            'config = { language = "python", code = "1" }\n'
            "requires = { network_access = false }\n",
        )
        assert case.unmet(CAPABILITIES) == (
            "needs network_access = False; the backend declares True"
        )


class TestShippedCases:
    def test_the_data_directory_is_found_in_a_source_checkout(self) -> None:
        """Without a wheel, the loader finds conformance/ at the repository root."""
        assert default_data_dir() == Path(__file__).resolve().parents[2] / "conformance"

    def test_there_are_at_least_80_cases(self) -> None:
        """The packaged suite holds at least 80 cases: the floor the parity verdict rests on."""
        assert len(load_cases()) >= 80

    def test_every_theme_file_loads(self) -> None:
        """Every shipped theme file is valid."""
        for path in sorted(default_cases_dir().glob("*.toml")):
            assert load_case_file(path), path

    def test_every_declared_capability_is_probed_by_a_case(self) -> None:
        """Each capability a backend declares is tested by some case, except those listed
        here with the reason they cannot be observed from user code."""
        untestable = {
            "isolation": "informational: how a backend isolates is not observable as such",
            "memory_enforcement": "informational: the mechanism behind memory_limit_mb",
            "max_timeout_ms": "every backend accepts the contract's 300000 ms maximum today",
            "supports_typescript": "the contract refuses typescript before any backend runs",
            "packages": "a per-backend list: each backend's own tests import every module it "
            "declares (tests/plugins/*/test_packages.py)",
        }
        required = {name for case in load_cases() for name in case.requires}
        implied = {"languages"}  # every case requires its config's language
        placeholders = {"max_output_bytes", "max_result_bytes", "memory_limit_mb"}
        covered = required | implied | placeholders | set(untestable)
        assert set(Capabilities.model_fields) <= covered

    def test_every_case_has_a_distinct_description(self) -> None:
        """Descriptions say what each case proves; two cases never say the same thing."""
        descriptions = {}
        for case in load_cases():
            base = case.id.removesuffix(".python").removesuffix(".javascript")
            descriptions.setdefault(case.description, set()).add(base)
        assert all(len(ids) == 1 for ids in descriptions.values())
