"""Flag-file bounds: hostile nesting and size are refused as FILE:LINE problems before TOML
parsing, and real files are not affected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from turnout.cli import main
from turnout.flags import load_flags
from turnout.flags.bounds import (
    MAX_FLAG_FILE_BYTES,
    MAX_FLAG_NESTING,
    FlagFileBoundError,
    check_bounds,
)

from .support import SOURCE, document, environment, only_problem

REPOSITORY_FLAGS = Path(__file__).resolve().parents[2] / "feature_flags.toml"
LIMIT = f"nesting limit of {MAX_FLAG_NESTING} levels"


class TestHostileNesting:
    def test_100000_nested_arrays_are_refused_at_their_line(self) -> None:
        """100,000 nested arrays (a RecursionError in tomllib) are one problem at FILE:LINE."""
        problem = only_problem(document("note = " + "[" * 100_000 + "]" * 100_000))
        assert (problem.source, problem.line) == (SOURCE, 3)
        assert LIMIT in problem.message

    def test_50000_nested_inline_tables_are_refused(self) -> None:
        """50,000 nested inline tables are refused naming the limit, not a RecursionError."""
        problem = only_problem(document("note = " + "{a = " * 50_000 + "1" + "}" * 50_000))
        assert (problem.line, LIMIT in problem.message) == (3, True)

    def test_a_dotted_key_of_20000_levels_is_refused(self) -> None:
        """A 20,000-level dotted key (gigabytes inside tomllib) is refused before parsing."""
        problem = only_problem(document(".".join(["a"] * 20_000) + " = 1"))
        assert (problem.line, LIMIT in problem.message) == (3, True)

    def test_a_table_header_past_the_limit_is_refused(self) -> None:
        """A table header of 33 parts is refused at its line."""
        header = "[" + ".".join(["t"] * (MAX_FLAG_NESTING + 1)) + "]"
        problem = only_problem(f"schema_version = 1\n\n{header}\n")
        assert (problem.line, "this table header" in problem.message) == (3, True)

    def test_the_levels_of_header_key_and_value_add_up(self) -> None:
        """A header of 30 parts plus a 2-part key is 32, accepted; a 3-part key is refused."""
        header = "[" + ".".join(["t"] * 30) + "]"
        check_bounds(f"schema_version = 1\n{header}\na.b = 1\n")
        with pytest.raises(FlagFileBoundError, match=LIMIT) as caught:
            check_bounds(f"schema_version = 1\n{header}\na.b.c = 1\n")
        assert caught.value.line == 3

    def test_inline_tables_and_arrays_add_levels(self) -> None:
        """`x = [{a = 1}]` is 3 levels: accepted under a 29-part header, refused under 30."""
        check_bounds("[" + ".".join(["t"] * 29) + "]\nx = [{a = 1}]\n")
        with pytest.raises(FlagFileBoundError, match=LIMIT):
            check_bounds("[" + ".".join(["t"] * 30) + "]\nx = [{a = 1}]\n")


class TestWhatDoesNotCount:
    def test_brackets_and_dots_in_strings_and_comments_are_not_nesting(self) -> None:
        """Strings (all four kinds) and comments may hold any number of brackets and dots."""
        deep = "[" * 100 + "." * 100 + "{" * 100
        body = (
            f'stage = "off" # {deep}\n'
            f"legacy_backend = 'local-subprocess' # '''{deep}\n"
            f'# """ {deep}\n'
        )
        assert environment(body).stage == "off"

    def test_a_float_value_is_not_a_dotted_key(self) -> None:
        """The dots of a value such as `1.5` or a time are not key parts (32 levels here)."""
        header = "[" + ".".join(["t"] * (MAX_FLAG_NESTING - 2)) + "]"
        check_bounds(f"{header}\nx = 1.5\ny = [1.5, 2.5e3]\nz = 07:32:00.999\n")

    def test_a_quoted_key_is_one_part_whatever_its_dots(self) -> None:
        """`"a.b.c" = 1` is one key part: its dots are inside a string."""
        header = "[" + ".".join(["t"] * (MAX_FLAG_NESTING - 1)) + "]"
        check_bounds(f'{header}\n"{"." * 100}" = 1\n')

    def test_the_shipped_file_is_within_the_bounds(self) -> None:
        """The repository's feature_flags.toml loads as before."""
        assert "production" in load_flags(REPOSITORY_FLAGS).environments


class TestSize:
    def test_a_file_over_1_mib_is_refused_at_the_line_where_it_crosses(
        self, tmp_path: Path
    ) -> None:
        """A flag file over 1 MiB is refused naming the limit, at the line past 1 MiB."""
        path = tmp_path / "big.toml"
        line = "# " + "x" * 1021 + "\n"  # 1 KiB per line
        path.write_text("schema_version = 1\n" + line * 1100, encoding="utf-8")
        with pytest.raises(Exception, match="1 MiB") as caught:
            load_flags(path)
        [problem] = caught.value.problems  # type: ignore[attr-defined]
        assert problem.line == MAX_FLAG_FILE_BYTES // 1024 + 1

    def test_a_file_cut_inside_a_character_is_still_refused_for_its_size(
        self, tmp_path: Path
    ) -> None:
        """A big file whose 1 MiB bound falls inside a UTF-8 character gets the size error."""
        path = tmp_path / "big.toml"
        path.write_bytes(b"# " + "é".encode() * MAX_FLAG_FILE_BYTES)  # the bound splits an é
        with pytest.raises(Exception, match="over the limit of 1,048,576 bytes"):
            load_flags(path)

    def test_a_huge_file_is_not_read_whole(self, tmp_path: Path) -> None:
        """A 10 GiB (sparse) flag file is refused after reading 1 MiB, not loaded."""
        path = tmp_path / "huge.toml"
        with path.open("wb") as stream:
            stream.truncate(10 * 1024**3)
        with pytest.raises(Exception, match="over the limit of 1,048,576 bytes"):
            load_flags(path)


class TestCommands:
    def test_flags_validate_reports_the_bound_as_file_and_line(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout flags validate` exits 1 listing FILE:LINE and the limit."""
        path = tmp_path / "hostile.toml"
        path.write_text(document("note = " + "[" * 100_000 + "]" * 100_000), encoding="utf-8")
        assert main(["flags", "validate", str(path), "--json"]) == 1
        [problem] = json.loads(capsys.readouterr().out)["error"]["problems"]
        assert problem.startswith(f"{path}:3: ")
        assert LIMIT in problem

    def test_run_reports_the_bound_as_a_configuration_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`turnout run --flags HOSTILE` is one configuration error (exit 1), no traceback."""
        path = tmp_path / "hostile.toml"
        path.write_text(document("x = " + "{a = " * 50_000 + "1" + "}" * 50_000), encoding="utf-8")
        argv = ["run", "--flags", str(path), "--env", "prod", "--language", "python"]
        assert main([*argv, "--code", "return 1", "--json"]) == 1
        error = json.loads(capsys.readouterr().out)["error"]
        assert error["type"] == "FlagFileError"  # a ConfigurationError listing its problems
        assert f"{path}:3: " in error["message"]
