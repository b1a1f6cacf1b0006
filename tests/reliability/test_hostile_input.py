"""Hostile input to turnout itself, property-based: node configs, contexts, flag files and
command lines. Whatever comes in, only turnout's typed errors come out (ValidationError for
caller input, naming the offending path; ConfigurationError for flag files; an exit status
for the CLI), never another exception, and nothing hangs."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout.cli import build_parser, main
from turnout.contract import prepare_request, select_inputs
from turnout.contract.values import MAX_DEPTH
from turnout.errors import ConfigurationError, ValidationError
from turnout.flags import FlagFile, parse_flags
from turnout.models import CodeNodeConfig, parse_config

from .strategies import EXAMPLES, hostile_keys, hostile_values, json_values, nested

ROOT = Path(__file__).resolve().parents[2]
FLAGS_TEXT = (ROOT / "feature_flags.toml").read_text(encoding="utf-8")
FAST = settings(max_examples=EXAMPLES, deadline=None)
#: Fewer examples where each one builds large hostile values (huge keys and integers).
HEAVY_VALUES = settings(max_examples=EXAMPLES // 3, deadline=None)


T = TypeVar("T")


def validated(call: Callable[[], T]) -> T | ValidationError:
    """What `call` returned, or the ValidationError it raised (anything else propagates)."""
    try:
        return call()
    except ValidationError as error:
        return error


def exit_status(argv: list[str]) -> object:
    """`main(argv)`'s return value, or the code of the SystemExit it raised."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def prepare(config: CodeNodeConfig, inputs: dict[str, Any]) -> None:
    """Build the request an engine would hand a backend (no backend involved)."""
    prepare_request(config, inputs, execution_id="hostile", max_result_bytes=1 << 20)


_config_values = st.one_of(json_values, hostile_values)
stored_configs = st.fixed_dictionaries(
    {},
    optional={
        "language": st.one_of(
            st.sampled_from(["python", "javascript", "typescript"]), _config_values
        ),
        "code": st.one_of(st.text(max_size=200), _config_values),
        "timeout": st.one_of(st.integers(), _config_values),
        "memory": _config_values,
        "inputVariables": st.one_of(st.lists(st.text(max_size=5), max_size=3), _config_values),
        "outputVariable": st.one_of(st.text(max_size=10), _config_values),
        "allowNetworkAccess": _config_values,
        "sideEffectFree": _config_values,
        "memoryLimit": _config_values,
    },
)
"""Stored node configs: the real field names with any value, and unknown fields."""


class TestNodeConfigs:
    @FAST
    @given(raw=json_values)
    def test_any_json_is_a_config_or_a_validation_error(self, raw: Any) -> None:
        """Arbitrary JSON as a stored config gives a config or a ValidationError, nothing else."""
        with contextlib.suppress(ValidationError):
            parse_config(raw)

    @HEAVY_VALUES
    @given(raw=stored_configs)
    def test_real_fields_with_any_value_give_only_validation_errors(self, raw: Any) -> None:
        """Known field names with hostile values are refused as ValidationError naming a field."""
        config = validated(lambda: parse_config(raw))
        if isinstance(config, ValidationError):
            assert config.field
            return
        assert config.warnings is not None
        with contextlib.suppress(ValidationError):
            prepare(config, {})

    @HEAVY_VALUES
    @given(raw=st.dictionaries(hostile_keys, hostile_values, max_size=5))
    def test_non_string_keys_are_a_validation_error(self, raw: dict[Any, Any]) -> None:
        """A config object with keys JSON cannot have is refused, never a TypeError."""
        with contextlib.suppress(ValidationError):
            parse_config(raw)

    @FAST
    @given(code=st.text(min_size=1, max_size=400))
    def test_any_javascript_code_can_be_prepared(self, code: str) -> None:
        """Any text as JavaScript code (the host parses it) is prepared or refused, not crashed."""
        with contextlib.suppress(ValidationError):
            prepare(parse_config({"language": "javascript", "code": code}), {})


class TestContexts:
    @HEAVY_VALUES
    @given(context=st.dictionaries(hostile_keys, hostile_values, max_size=5))
    def test_hostile_contexts_give_a_validation_error_naming_a_context_path(
        self, context: dict[Any, Any]
    ) -> None:
        """Odd keys and non-JSON values are refused with a field that starts with `context`."""
        config = parse_config({"language": "python", "code": "return 1"})
        inputs = validated(lambda: select_inputs(context, config.input_variables))
        if isinstance(inputs, ValidationError):
            assert inputs.field == "context" or inputs.field.startswith("context.")
            return
        prepare(config, inputs)

    @HEAVY_VALUES
    @given(context=hostile_values)
    def test_a_context_that_is_not_an_object_is_refused(self, context: Any) -> None:
        """A list, a number, a set as the whole context is a ValidationError, or usable."""
        with contextlib.suppress(ValidationError):
            select_inputs(context, [])

    @settings(max_examples=60, deadline=None)
    @given(depth=st.integers(min_value=0, max_value=3000), as_list=st.booleans())
    def test_deep_nesting_is_refused_past_the_limit_with_its_path(
        self, depth: int, as_list: bool
    ) -> None:
        """Nesting deeper than MAX_DEPTH is refused (without recursion) naming the deep path."""
        config = parse_config({"language": "javascript", "code": "return v"})
        context = {"v": nested(depth, as_list=as_list)}
        if depth <= MAX_DEPTH:
            prepare(config, select_inputs(context, []))
            return
        with pytest.raises(ValidationError) as caught:
            select_inputs(context, [])
        assert caught.value.field.startswith("context.v.")
        assert "nested deeper" in caught.value.problem

    @settings(max_examples=20, deadline=None)
    @given(size=st.integers(min_value=100_000, max_value=2_000_000))
    def test_huge_keys_pass_through_intact(self, size: int) -> None:
        """A key of up to 2 MB is a valid context key (JSON allows it) and is prepared."""
        config = parse_config({"language": "python", "code": "return 1"})
        prepare(config, select_inputs({"k" * size: 1}, []))

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
    def test_nan_and_infinities_are_refused_naming_the_path(self, value: float) -> None:
        """NaN and the infinities are not JSON: refused at their path."""
        with pytest.raises(ValidationError) as caught:
            select_inputs({"a": {"b": [0, value]}}, [])
        assert caught.value.field == "context.a.b.1"

    def test_a_self_referencing_context_is_refused_not_looped(self) -> None:
        """A context that contains itself is refused at the depth limit, not recursed forever."""
        context: dict[str, Any] = {}
        context["self"] = context
        with pytest.raises(ValidationError):
            select_inputs(context, [])


_FLAG_KEYS = [
    "schema_version",
    "legacy_backend",
    "target_backend",
    "stage",
    "legacy_allowed",
    "fallback_to_legacy",
    "shadow_sample_percent",
    "bucket_by",
    "shadow_ignore",
    "shadow_workflows",
    "percent",
    "tenants",
    "workflows",
    "max_concurrency",
    "api_url",
    "isolate_processes",
    "memory_mb",
]
_TOML_VALUES = st.one_of(
    st.sampled_from(
        [
            "1",
            "-1",
            "0",
            "1.5",
            "nan",
            "inf",
            "true",
            "false",
            '"e2b"',
            '"local-subprocess"',
            '"shadow"',
            '"live"',
            '"complete"',
            "[]",
            '["tenant", "tenant"]',
            '["$.metadata.x"]',
            "{a = 1}",
            "1979-05-27T07:32:00Z",
            '"""x"""',
            "'''",
            '"\\u0000"',
            "999999999999999999999999",
        ]
    ),
    st.text(max_size=15).map(json.dumps),
    st.text(max_size=15),
)
_TOML_LINES = st.one_of(
    st.tuples(st.sampled_from(_FLAG_KEYS), _TOML_VALUES).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.sampled_from(
        [
            "[environments.development]",
            "[environments.production]",
            "[environments.test.rollout]",
            "[environments.test.overrides]",
            "[environments.x.backends.e2b]",
            "[environments.x.backends.nope]",
            "[[environments]]",
            "[environments]",
            "[]",
        ]
    ),
    st.text(max_size=30),
)


@st.composite
def mutated_flag_files(draw: st.DrawFn) -> str:
    """The repository's own flag file with lines dropped, replaced or inserted."""
    lines = FLAGS_TEXT.splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        action = draw(st.sampled_from(["drop", "replace", "insert"]))
        index = draw(st.integers(min_value=0, max_value=max(0, len(lines) - 1)))
        if action == "drop" and lines:
            del lines[index]
        elif action == "replace" and lines:
            lines[index] = draw(_TOML_LINES)
        else:
            lines.insert(index, draw(_TOML_LINES))
    return "\n".join(lines)


class TestFlagFiles:
    @FAST
    @given(text=st.text(max_size=400))
    def test_arbitrary_text_is_flags_or_a_configuration_error(self, text: str) -> None:
        """Any text given to parse_flags gives a FlagFile or a ConfigurationError."""
        with contextlib.suppress(ConfigurationError):
            assert isinstance(parse_flags(text), FlagFile)

    @FAST
    @given(lines=st.lists(_TOML_LINES, max_size=25))
    def test_toml_ish_text_is_flags_or_a_configuration_error(self, lines: list[str]) -> None:
        """Lines that look like a flag file (real keys, odd values) give only typed errors."""
        with contextlib.suppress(ConfigurationError):
            parse_flags("schema_version = 1\n" + "\n".join(lines))

    @FAST
    @given(text=mutated_flag_files())
    def test_a_mutated_real_flag_file_is_flags_or_a_configuration_error(self, text: str) -> None:
        """The repository's file, damaged at random, gives only typed errors."""
        with contextlib.suppress(ConfigurationError):
            parse_flags(text, known_backends=["local-subprocess", "e2b"])

    def test_a_configuration_error_lists_a_located_problem(self) -> None:
        """A damaged file's error names the line of the problem."""
        damaged = FLAGS_TEXT.replace('stage = "rampdown"', 'stage = "sideways"', 1)
        line = damaged.splitlines().index('stage = "sideways"') + 1
        with pytest.raises(ConfigurationError) as caught:
            parse_flags(damaged)
        assert str(caught.value).startswith(f"<memory>:{line}: ")


# -- command lines ------------------------------------------------------------------------

#: Subcommands that start servers, run suites or benchmarks: never generated.
HEAVY = {"serve", "bench", "chaos"}
#: The environment every generated command runs in: unknown, so nothing executes code.
NOWHERE = "hypothesis-nowhere"


def _command_paths(parser: argparse.ArgumentParser) -> list[list[str]]:
    """Every subcommand path of the parser (`["flags", "show"]`, ...), heavy ones included."""
    paths: list[list[str]] = []
    pending: list[tuple[list[str], argparse.ArgumentParser]] = [([], parser)]
    while pending:
        prefix, current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append([*prefix, name])
                    pending.append(([*prefix, name], sub))
    return sorted(paths)


def _vocabulary(parser: argparse.ArgumentParser) -> tuple[list[str], list[str]]:
    """Every subcommand name and option string of the parser, recursively."""
    commands: list[str] = []
    options: list[str] = []
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if name not in HEAVY:
                        commands.append(name)
                        pending.append(sub)
            else:
                options.extend(action.option_strings)
    return sorted(set(commands)), sorted(set(options))


COMMANDS, OPTIONS = _vocabulary(build_parser())


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Paths the generated command lines may name: garbage, empty, valid, a directory."""
    root = tmp_path_factory.mktemp("cli")
    files = {
        "garbage.json": "{not json",
        "empty.json": "",
        "list.json": "[1, 2]",
        "config.json": json.dumps({"language": "python", "code": "return 1"}),
        "flags.toml": FLAGS_TEXT,
        "broken.toml": "schema_version = [",
        "log.jsonl": '{"event": "code_node_executed"}\nnot json\n',
        "binary.bin": "\udcff",
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8", errors="surrogateescape")
    return [*(str(root / name) for name in files), str(root), str(root / "missing.json")]


def _tokens(paths: list[str]) -> st.SearchStrategy[str]:
    values = st.sampled_from(
        [
            NOWHERE,
            "python",
            "javascript",
            "typescript",
            "local-subprocess",
            "e2b",
            "0",
            "-1",
            "1e309",
            "nan",
            "2h",
            "-5m",
            "",
            "--",
            "-",
            "=",
            "\x00",
            "ü" * 50,
        ]
    )
    safe_text = st.text(max_size=12).filter(lambda token: token not in HEAVY)
    return st.one_of(
        st.sampled_from(COMMANDS),
        st.sampled_from(OPTIONS),
        values,
        st.sampled_from(paths),
        safe_text,
    )


@contextlib.contextmanager
def _sandboxed_cli() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """An unknown environment, empty stdin, captured stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, {"TURNOUT_ENV": NOWHERE}),
        mock.patch.object(sys, "stdin", io.StringIO("")),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        yield out, err


class TestCliArguments:
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def test_any_argv_exits_with_a_status_never_a_traceback(
        self, data: st.DataObject, cli_files: list[str]
    ) -> None:
        """main(argv) returns an int status or exits through argparse, whatever argv holds."""
        first = data.draw(st.one_of(st.sampled_from(COMMANDS), _tokens(cli_files)))
        rest = data.draw(st.lists(_tokens(cli_files), max_size=8))
        argv = [first, *rest]
        if any(token in HEAVY for token in argv):
            return
        if "--env" in argv:  # a real environment after --env could run code
            position = argv.index("--env")
            argv[position + 1 : position + 2] = [NOWHERE]
        with _sandboxed_cli():
            status = exit_status(argv)
        assert status in (0, 1, 2), f"{argv!r} ended with {status!r}"

    @pytest.mark.parametrize(
        "command",
        [path for path in _command_paths(build_parser()) if path != ["e2b", "serve"]],
        ids=" ".join,
    )
    def test_every_command_prints_its_help(self, command: list[str]) -> None:
        """`--help` of every subcommand (heavy ones too) renders and exits 0."""
        with _sandboxed_cli() as (out, _):
            status = exit_status([*command, "--help"])
        assert status == 0
        assert "usage:" in out.getvalue()

    def test_an_unknown_environment_exits_1_without_running_code(self) -> None:
        """`run --code` in an environment the flag file lacks is a configuration error."""
        with _sandboxed_cli() as (_, err):
            status = main(["run", "--language", "python", "--code", "return 1"])
        assert status == 1
        assert "environment" in err.getvalue()
