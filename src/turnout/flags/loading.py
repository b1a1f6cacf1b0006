"""Finding, reading and validating feature_flags.toml, all or nothing.

Where the file is: the path given explicitly, else `TURNOUT_FLAGS_FILE`, else
`feature_flags.toml` in the current directory. The environment is the process's:
`TURNOUT_ENV` (default `development`), never a request's.

Every problem is reported at once, each as `FILE:LINE: key.path: problem` (the line where
it can be found: TOML parsers keep no positions, so `_line_of` finds it in the text).
Flags given as data (`flags_from_mapping`, what `turnout.Client(flags={...})` takes) go
through the same validation, located as `<flags>: key.path: problem`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from turnout.errors import ConfigurationError
from turnout.field_errors import FieldProblem, field_problems, suggestion
from turnout.flags.bounds import (
    MAX_FLAG_FILE_BYTES,
    FlagDataBoundError,
    FlagFileBoundError,
    check_bounds,
    check_data_nesting,
)
from turnout.flags.options import OptionModels, backend_option_problems
from turnout.flags.schema import ENVIRONMENT_VARIABLE, FlagFile
from turnout.flags.stages import BUCKETING_KEYS, STAGES

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "DEFAULT_FLAGS_FILE",
    "FLAGS_FILE_VARIABLE",
    "MAPPING_SOURCE",
    "FlagFileError",
    "Problem",
    "check_backend_options",
    "current_environment",
    "flags_from_mapping",
    "load_flags",
    "locate_flags_file",
    "parse_flags",
    "validate_flags",
]

FLAGS_FILE_VARIABLE = "TURNOUT_FLAGS_FILE"
DEFAULT_FLAGS_FILE = "feature_flags.toml"
#: Where flags given as data are said to come from in messages.
MAPPING_SOURCE = "<flags>"
DEFAULT_ENVIRONMENT = "development"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flag file, located as precisely as the text allows."""

    source: str
    line: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return (
            f"{where}: {self.key_path}: {self.message}"
            if self.key_path
            else (f"{where}: {self.message}")
        )


class FlagFileError(ConfigurationError):
    """A flag file that cannot be used; `problems` lists every reason, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = tuple(problems)


def current_environment(explicit: str | None = None) -> str:
    """The process's environment: `explicit`, else `TURNOUT_ENV`, else development."""
    return explicit or os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_ENVIRONMENT


def locate_flags_file(explicit: str | Path | None = None) -> Path:
    """The flag file's path: `explicit`, else `TURNOUT_FLAGS_FILE`, else ./feature_flags.toml."""
    candidate = explicit or os.environ.get(FLAGS_FILE_VARIABLE) or DEFAULT_FLAGS_FILE
    path = Path(candidate)
    if not path.is_file():
        raise ConfigurationError(
            f"feature flag file {str(path)!r} not found; pass its path or set {FLAGS_FILE_VARIABLE}"
        )
    return path


def load_flags(
    path: str | Path | None = None,
    *,
    known_backends: Collection[str] | None = None,
    option_models: OptionModels | None = None,
    unavailable_reason: Callable[[str], str | None] | None = None,
) -> FlagFile:
    """Read and validate the flag file, all or nothing (see `parse_flags`)."""
    located = locate_flags_file(path)
    try:
        text = _read_bounded(located)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{located}: cannot read the flag file: {exc}") from None
    return parse_flags(
        text,
        source=str(located),
        known_backends=known_backends,
        option_models=option_models,
        unavailable_reason=unavailable_reason,
    )


def parse_flags(
    text: str,
    *,
    source: str = "<memory>",
    known_backends: Collection[str] | None = None,
    option_models: OptionModels | None = None,
    unavailable_reason: Callable[[str], str | None] | None = None,
) -> FlagFile:
    """Validate flag-file text; raise `FlagFileError` listing every problem.

    `known_backends`, when given, is the set of backend ids that exist (the registry's);
    any other id in the file is an error. Without it, ids are not checked. `option_models`
    (`BackendRegistry.option_models`) checks each backend's options table against the
    model its class declares (see `turnout.flags.options`). `unavailable_reason`
    (`BackendRegistry.unavailable_reason`) words an id that is not known because a broken
    plugin registers it, or may.
    """
    _check_bounds(text, source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FlagFileError([_toml_problem(exc, text, source)]) from None
    return validate_flags(
        raw,
        source=source,
        text=text,
        known_backends=known_backends,
        option_models=option_models,
        unavailable_reason=unavailable_reason,
    )


def flags_from_mapping(
    data: Mapping[str, Any],
    *,
    source: str = MAPPING_SOURCE,
    known_backends: Collection[str] | None = None,
    option_models: OptionModels | None = None,
    unavailable_reason: Callable[[str], str | None] | None = None,
) -> FlagFile:
    """Validate flags given as data (what the file's TOML decodes to) by the same schema and
    rules as the file, with the same messages; each problem is located by its key path
    (`<flags>: environments.production.stage: ...`) instead of a line.

    Nested mappings and sequences are taken as TOML's tables and arrays (a tuple is a list),
    at most `MAX_FLAG_NESTING` levels deep, as in a file (turnout.flags.bounds).
    """
    if not isinstance(data, Mapping):
        raise FlagFileError(
            [Problem(source, None, "", f"must be a mapping, got {type(data).__name__}")]
        )
    try:
        check_data_nesting(data)
    except FlagDataBoundError as exc:
        raise FlagFileError([Problem(source, None, exc.key_path, exc.message)]) from None
    return validate_flags(
        _as_toml_data(data),
        source=source,
        known_backends=known_backends,
        option_models=option_models,
        unavailable_reason=unavailable_reason,
    )


def validate_flags(
    raw: Any,
    *,
    source: str,
    text: str | None = None,
    known_backends: Collection[str] | None = None,
    option_models: OptionModels | None = None,
    unavailable_reason: Callable[[str], str | None] | None = None,
) -> FlagFile:
    """The one validation path of flags, read from a file or given as data: the schema
    (`FlagFile`), its cross-key rules and, with `option_models`
    (`BackendRegistry.option_models`), each backend's options table against the model its
    class declares (see `turnout.flags.options`); `FlagFileError` lists every problem,
    located on a line of `text` when there is one."""
    text = text or ""
    problems = [
        _located(found, text, source) for found in backend_option_problems(raw, option_models or {})
    ]
    context = {
        "known_backends": None if known_backends is None else frozenset(known_backends),
        "unavailable_reason": unavailable_reason,
    }
    flags: FlagFile | None = None
    try:
        flags = FlagFile.model_validate(raw, context=context)
    except pydantic.ValidationError as exc:
        problems += [
            _located(found, text, source)
            for found in field_problems(exc, schema=FlagFile, reword=_flag_wording)
        ]
    if problems or flags is None:
        problems.sort(key=lambda problem: problem.line or 0)
        raise FlagFileError(problems) from None  # pydantic's report is in the problems
    flags._source = source
    return flags


def check_backend_options(flags: FlagFile, option_models: OptionModels) -> None:
    """Check the options tables of flags parsed without `option_models` (an engine given a
    `FlagFile`); `FlagFileError` names each problem (without lines: there is no text)."""
    raw = {
        "environments": {
            name: {"backends": environment.backends}
            for name, environment in flags.environments.items()
        }
    }
    problems = [
        Problem(flags.source, None, found.field, found.message)
        for found in backend_option_problems(raw, option_models)
    ]
    if problems:
        raise FlagFileError(problems)


def _read_bounded(path: Path) -> str:
    """The file's text, reading at most one byte past the size bound (so that a huge file
    is refused by `_check_bounds` without being read whole). Text cut at the bound may end
    inside a character: that one is replaced, the size check refuses the file anyway."""
    with path.open("rb") as stream:
        data = stream.read(MAX_FLAG_FILE_BYTES + 1)
    return data.decode("utf-8", "strict" if len(data) <= MAX_FLAG_FILE_BYTES else "replace")


def _check_bounds(text: str, source: str) -> None:
    """Refuse text over the size or nesting bounds of turnout.flags.bounds, before
    `tomllib` (which recurses and can take gigabytes) sees it."""
    try:
        check_bounds(text)
    except FlagFileBoundError as exc:
        raise FlagFileError([Problem(source, exc.line, "", exc.message)]) from None


def _as_toml_data(value: Any) -> Any:
    """`value` with mappings as dicts and lists or tuples as lists, as TOML would give them
    (the schema is strict: it takes a dict and a list, not any mapping or sequence)."""
    if isinstance(value, Mapping):
        return {key: _as_toml_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_toml_data(item) for item in value]
    return value


_DUPLICATE = re.compile(r"^(Cannot overwrite|Cannot declare|Cannot redefine|Cannot mutate)")
_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$")


def _toml_problem(exc: tomllib.TOMLDecodeError, text: str, source: str) -> Problem:
    message = str(exc)
    position = _POSITION.search(message)
    line = int(position.group(1)) if position else None
    if position and _DUPLICATE.match(message):
        key_path = ".".join(_path_at(text, line or 0))
        return Problem(
            source,
            line,
            key_path,
            "duplicate key: already defined above (TOML allows each key and table once)",
        )
    detail = message[: position.start()] if position else message
    return Problem(source, line, "", f"not valid TOML: {detail}")


def _located(found: FieldProblem, text: str, source: str) -> Problem:
    line = _line_of(text, list(found.path))
    return Problem(source, line, found.field or "<top level>", found.message)


def _flag_wording(problem: FieldProblem) -> str | None:
    """The flag file's own words for its choices and for keys that moved."""
    path, value = problem.path, problem.value
    if problem.kind == "literal_error" and path == ("schema_version",):
        return f"{value!r} is not a schema version (allowed: 1)"
    if problem.kind == "literal_error" and path[-2:-1] == ("bucket_by",):
        hint = suggestion(str(value), BUCKETING_KEYS)
        return f"{value!r} is not a bucketing key ({', '.join(BUCKETING_KEYS)}){hint}"
    if problem.kind == "literal_error":
        hint = suggestion(str(value), STAGES)
        return f"{value!r} is not a stage (allowed: {', '.join(STAGES)}){hint}"
    if problem.kind != "extra_forbidden":
        return None
    if len(path) == 4 and path[2] == "rollout":
        hint = suggestion(path[3], STAGES)
        return f"unknown key: rollout keys are stage names ({', '.join(STAGES)}){hint}"
    if len(path) == 3 and path[0] == "environments" and path[2] == "backend":
        return (
            "unknown key: `backend` was replaced by `stage` (with legacy_backend and "
            "target_backend); see docs/flags.md"
        )
    return None


_PART = r"(?:\"(?:[^\"\\]|\\.)*\"|'[^']*'|[A-Za-z0-9_-]+)"
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(rf"^\s*({_DOTTED})\s*=")
_PARTS = re.compile(_PART)


def _split(dotted: str) -> list[str]:
    return [part.group(0).strip("\"'") for part in _PARTS.finditer(dotted)]


def _paths(text: str) -> list[tuple[int, list[str]]]:
    """Each header or key line with the full key path it defines, in file order."""
    found: list[tuple[int, list[str]]] = []
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split(header.group(1))
            found.append((number, table))
            continue
        key = _KEY.match(line)
        if key:
            found.append((number, [*table, *_split(key.group(1))]))
    return found


def _path_at(text: str, line: int) -> list[str]:
    return next((path for number, path in _paths(text) if number == line), [])


def _line_of(text: str, location: list[str]) -> int | None:
    """Best-effort line of a key path: its own line, else the line of the deepest enclosing
    table or inline table that the file spells out (so a missing key points at its table's
    header and a bad entry of an inline table at that table's line), never a line of
    another environment.
    """
    best, depth = None, 0
    for number, path in _paths(text):
        if path == location:
            return number
        if depth < len(path) < len(location) and location[: len(path)] == path:
            best, depth = number, len(path)
    return best
