"""Conformance cases: the TOML schema, and the loader that finds and validates case files.

A case is data, not code, so every backend is held to the same text and a reader can see
what is promised without reading Python. Files live in one directory, one file per theme
(`inputs.toml`, `timeouts.toml`, ...); the theme is the file's stem. The canonical copy is
`conformance/` at the root of a source checkout; wheels carry it as
`turnout/conformance/data/` (see `default_data_dir`).

Validation is strict (unknown keys, wrong types and values JSON cannot carry are refused)
because a typo in an expectation would otherwise silently test nothing. Every problem is
reported as a `CaseFileError` naming the file and the case.

A case whose `config.code` is a table `{python = "...", javascript = "..."}` is written once
and expands into one case per language, `<id>.python` and `<id>.javascript`; per-language
differences in the expectations go in `expect_by_language.<language>`.
"""

from __future__ import annotations

import copy
import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from turnout.errors import ConfigurationError, ValidationError
from turnout.field_errors import field_problems, summarize
from turnout.models import Capabilities

__all__ = [
    "LANGUAGES",
    "PLACEHOLDER",
    "Case",
    "CaseFileError",
    "Condition",
    "ErrorExpectation",
    "Expectation",
    "Generator",
    "Shape",
    "Step",
    "default_cases_dir",
    "default_data_dir",
    "default_ledger_path",
    "load_case_file",
    "load_cases",
]

LANGUAGES: tuple[str, ...] = ("python", "javascript")
CASE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
#: `{{marker}}` (a token unique to one run of one case) and `{{cap.<field>}}` (the backend's
#: declared capability) may appear in code; they are substituted just before running.
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_.]+)\s*\}\}")
CAPABILITY_PLACEHOLDERS = frozenset(
    {"max_output_bytes", "max_result_bytes", "memory_limit_mb", "max_timeout_ms"}
)
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class CaseFileError(ConfigurationError):
    """A case file or the ledger is malformed; the message names the file and the case."""


def default_data_dir() -> Path:
    """The directory holding `cases/` and `divergences.toml`.

    In a wheel it is `turnout/conformance/data/` (hatch force-include); in a source checkout
    (editable install) it is `conformance/` at the repository root.
    """
    packaged = Path(__file__).resolve().parent / "data"
    if (packaged / "cases").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "conformance"
    if (checkout / "cases").is_dir():
        return checkout
    raise ConfigurationError(
        f"the conformance case files were not found (looked in {packaged} and {checkout}); "
        "reinstall turnout or pass the case directory explicitly"
    )


def default_cases_dir() -> Path:
    return default_data_dir() / "cases"


def default_ledger_path() -> Path:
    return default_data_dir() / "divergences.toml"


# -- values --------------------------------------------------------------------------------


def check_json_value(value: Any, path: str = "") -> None:
    """Refuse TOML values JSON cannot carry (dates, NaN, infinity), naming where they are."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path or 'value'}: {value} is not JSON (use a JSON string field)")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            check_json_value(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            check_json_value(item, f"{path}.{key}" if path else str(key))
        return
    raise ValueError(f"{path or 'value'}: a TOML {type(value).__name__} is not JSON")


# -- requirements --------------------------------------------------------------------------


class Condition(BaseModel):
    """A condition on one declared capability, for values a plain equality cannot say."""

    model_config = _STRICT

    declared: bool | None = Field(default=None, description="true: the value is not null")
    at_least: int | None = None
    at_most: int | None = None
    includes: str | None = Field(default=None, description="the set contains this item")
    one_of: list[str | int | bool] | None = None

    def describe(self) -> str:
        parts = []
        if self.declared is not None:
            parts.append("declared" if self.declared else "not declared")
        if self.at_least is not None:
            parts.append(f">= {self.at_least}")
        if self.at_most is not None:
            parts.append(f"<= {self.at_most}")
        if self.includes is not None:
            parts.append(f"includes {self.includes!r}")
        if self.one_of is not None:
            parts.append(f"one of {self.one_of}")
        return " and ".join(parts)

    def holds(self, value: Any) -> bool:
        if self.declared is not None and (value is not None) != self.declared:
            return False
        if self.at_least is not None and (value is None or value < self.at_least):
            return False
        if self.at_most is not None and (value is None or value > self.at_most):
            return False
        if self.includes is not None and self.includes not in (value or ()):
            return False
        return self.one_of is None or value in self.one_of


Requirement = bool | int | str | Condition


def unmet_requirement(
    requires: Mapping[str, Requirement], capabilities: Capabilities
) -> str | None:
    """Why a backend with `capabilities` cannot run a case, or None when it can."""
    for name, wanted in sorted(requires.items()):
        declared = getattr(capabilities, name)
        if isinstance(wanted, Condition):
            if not wanted.holds(declared):
                return f"needs {name} {wanted.describe()}; the backend declares {declared!r}"
        elif declared != wanted or type(declared) is not type(wanted):
            return f"needs {name} = {wanted!r}; the backend declares {declared!r}"
    return None


# -- expectations --------------------------------------------------------------------------

ShapeType = Literal["null", "boolean", "integer", "number", "string", "array", "object", "any"]


class Shape(BaseModel):
    """What a value must look like when its exact value cannot be known (timestamps, sizes).

    `type` (one or several), and for strings `pattern` (a full-match regex), `format`
    (`iso-datetime`, `iso-date`) and lengths; for numbers `minimum`/`maximum`; for arrays
    `length` and `items` (a shape every item has); for objects `properties` (key -> shape)
    and whether other keys may appear; `equals` pins an exact value.
    """

    model_config = _STRICT

    type: ShapeType | list[ShapeType] = "any"
    equals: Any = None
    pattern: str | None = None
    format: Literal["iso-datetime", "iso-date"] | None = None
    length: int | None = Field(default=None, ge=0)
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    minimum: float | None = None
    maximum: float | None = None
    items: Shape | None = None
    properties: dict[str, Shape] | None = None
    additional_properties: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from None
        return pattern


class ErrorExpectation(BaseModel):
    """The one error the node must raise. `type` is the turnout error class name."""

    model_config = _STRICT

    type: Literal["CodeExecutionError", "ValidationError", "ConfigurationError"] = (
        "CodeExecutionError"
    )
    kind: (
        Literal[
            "syntax",
            "runtime",
            "timeout",
            "memory",
            "output_too_large",
            "output_not_serializable",
            "import",
        ]
        | None
    ) = None
    name: str | None = None
    message_contains: list[str] = Field(default_factory=list)
    message_not_contains: list[str] = Field(default_factory=list)
    line: int | None = Field(default=None, ge=1)
    line_between: list[int] | None = Field(
        default=None, min_length=2, max_length=2, description="[low, high], inclusive"
    )
    field: str | None = Field(default=None, description="ValidationError.field")
    retryable: bool | None = None


class Expectation(BaseModel):
    """What must be observed. Absent fields are not checked; without `error`, success is.

    `output` is compared exactly and type-strictly (`3` is not `3.0`, `1` is not `true`);
    TOML has no null, so `output_json` holds any JSON text. stdout/stderr expectations apply
    to the envelope, or to the error's captured text when an error is expected.
    """

    model_config = _STRICT

    output: Any = None
    output_json: str | None = None
    output_shape: Shape | None = None
    output_equals_context: str | None = None
    output_channel: Literal["return", "result", "last", "none"] | None = None
    stdout: str | None = None
    stderr: str | None = None
    stdout_contains: list[str] = Field(default_factory=list)
    stderr_contains: list[str] = Field(default_factory=list)
    stdout_not_contains: list[str] = Field(default_factory=list)
    stderr_not_contains: list[str] = Field(default_factory=list)
    stdout_shape: Shape | None = Field(default=None, description="for text too long to spell out")
    stderr_shape: Shape | None = None
    stdout_truncated: bool | None = None
    stderr_truncated: bool | None = None
    logs: list[str] | None = None
    logs_length: int | None = Field(default=None, ge=0)
    warnings_contain: list[str] = Field(default_factory=list)
    no_warnings: bool = False
    wrapped_as: str | None = None
    error: ErrorExpectation | None = None
    max_wall_ms: int | None = Field(default=None, ge=1)
    min_wall_ms: int | None = Field(default=None, ge=0)
    no_survivors: bool = Field(
        default=False,
        description="no process carrying the case's {{marker}} (in its command line, its "
        "environment or a file it holds open) is left; checked on this host for "
        "process-isolated backends (see conformance.survivors)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Expectation:
        chosen = [
            name
            for name in ("output", "output_json", "output_shape", "output_equals_context")
            if getattr(self, name) is not None
        ]
        if len(chosen) > 1:
            raise ValueError(f"give at most one of {', '.join(chosen)}")
        if self.error is not None and (chosen or self.output_channel or self.wrapped_as):
            raise ValueError("an expected error cannot also expect an output")
        if (
            self.no_survivors
            and self.error is not None
            and (self.error.line is not None or self.error.line_between is not None)
        ):
            raise ValueError(
                "no_survivors puts a line before the code, so it cannot also expect an error line"
            )
        if self.output is not None:
            check_json_value(self.output, "output")
        if self.output_json is not None:
            try:
                json.loads(self.output_json)
            except ValueError as exc:
                raise ValueError(f"output_json is not JSON: {exc}") from None
        return self

    @property
    def expects_output(self) -> bool:
        return any(
            getattr(self, name) is not None
            for name in ("output", "output_json", "output_shape", "output_equals_context")
        )


class Generator(BaseModel):
    """A large context value built at run time (10 MB strings do not belong in TOML)."""

    model_config = _STRICT

    kind: Literal["text", "integers", "records"]
    length: int = Field(ge=0, le=50_000_000)
    char: str = Field(default="x", min_length=1, max_length=1)
    text_length: int = Field(default=16, ge=0, le=10_000)

    def build(self) -> Any:
        if self.kind == "text":
            return self.char * self.length
        if self.kind == "integers":
            return list(range(self.length))
        return [{"id": index, "name": self.char * self.text_length} for index in range(self.length)]


class Step(BaseModel):
    """A follow-up execution run after the case's own (isolation checks: a second execution
    must not see what the first left behind). It runs on the same backend, `delay_ms` later."""

    model_config = _STRICT

    config: dict[str, Any]
    context: dict[str, Any] = Field(default_factory=dict)
    expect: Expectation = Field(default_factory=Expectation)
    delay_ms: int = Field(default=0, ge=0, le=10_000)


class RawCase(BaseModel):
    """A case as written in a file, before expansion into one case per language."""

    model_config = _STRICT

    id: str
    description: str = Field(min_length=1)
    config: dict[str, Any]
    config_json: str | None = Field(
        default=None, description="JSON merged over `config` (for null, which TOML lacks)"
    )
    context: dict[str, Any] = Field(default_factory=dict)
    context_json: str | None = None
    generate: dict[str, Generator] = Field(default_factory=dict)
    expect: Expectation = Field(default_factory=Expectation)
    expect_by_language: dict[Literal["python", "javascript"], Expectation] = Field(
        default_factory=dict
    )
    requires: dict[str, Requirement] = Field(default_factory=dict)
    then: Step | None = None
    slow: bool = False
    alone: bool = Field(
        default=False, description="runs after every other case, alone: it loads the whole host"
    )
    differential_ignore: list[str] = Field(default_factory=list)
    cancel_after_ms: int | None = Field(
        default=None, ge=1, le=60_000, description="the runner cancels the call this late"
    )
    close_after_ms: int | None = Field(
        default=None, ge=1, le=60_000, description="aclose() this late, on a fresh instance"
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not CASE_ID.fullmatch(value):
            raise ValueError(f"must match {CASE_ID.pattern}")
        return value

    @field_validator("requires")
    @classmethod
    def _capabilities(cls, requires: dict[str, Requirement]) -> dict[str, Requirement]:
        unknown = sorted(set(requires) - set(Capabilities.model_fields))
        if unknown:
            raise ValueError(
                f"unknown capabilities {unknown} (known: {', '.join(Capabilities.model_fields)})"
            )
        return requires

    @field_validator("context")
    @classmethod
    def _json(cls, context: dict[str, Any]) -> dict[str, Any]:
        check_json_value(context, "context")
        return context

    @field_validator("differential_ignore")
    @classmethod
    def _ignorable(cls, fields: list[str]) -> list[str]:
        from turnout.conformance.differential import IGNORABLE

        unknown = sorted(set(fields) - IGNORABLE)
        if unknown:
            raise ValueError(f"cannot ignore {unknown} (ignorable: {', '.join(sorted(IGNORABLE))})")
        return fields

    @model_validator(mode="after")
    def _code(self) -> RawCase:
        code = self.config.get("code")
        if isinstance(code, dict):
            if (
                not code
                or set(code) - set(LANGUAGES)
                or not all(isinstance(text, str) for text in code.values())
            ):
                raise ValueError("config.code as a table maps 'python' and/or 'javascript' to code")
            if "language" in self.config:
                raise ValueError("config.language is implied when config.code is a table")
        elif self.expect_by_language:
            raise ValueError("expect_by_language needs config.code as a per-language table")
        if self.then is not None and isinstance(self.then.config.get("code"), dict):
            languages = set(self.then.config["code"])
            if not isinstance(code, dict) or not set(code) <= languages:
                raise ValueError("then.config.code must have code for every language of the case")
        for text in _codes(self.config, self.then):
            for name in PLACEHOLDER.findall(text):
                if name != "marker" and not (
                    name.startswith("cap.") and name[4:] in CAPABILITY_PLACEHOLDERS
                ):
                    raise ValueError(f"unknown placeholder {{{{{name}}}}} in code")
        lifecycle = [name for name in ("cancel_after_ms", "close_after_ms") if getattr(self, name)]
        if len(lifecycle) > 1:
            raise ValueError("give cancel_after_ms or close_after_ms, not both")
        expectations = [self.expect, *self.expect_by_language.values()]
        if lifecycle and any(e.error is not None or e.expects_output for e in expectations):
            raise ValueError(
                f"{lifecycle[0]}: the call ends by the runner's doing, so expect no output and "
                "no error (only time, streams and survivors)"
            )
        if self.close_after_ms and self.then is not None:
            raise ValueError("close_after_ms closes the instance: a follow-up cannot run on it")
        for name in ("context_json", "config_json"):
            text = getattr(self, name)
            if text is None:
                continue
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"{name} is not JSON: {exc}") from None
            if not isinstance(parsed, dict):
                raise ValueError(f"{name} must hold a JSON object")
        return self

    @property
    def full_config(self) -> dict[str, Any]:
        """`config` with `config_json` merged over it."""
        if self.config_json is None:
            return dict(self.config)
        return {**self.config, **json.loads(self.config_json)}


def _codes(config: Mapping[str, Any], then: Step | None) -> Iterable[str]:
    for source in (config, then.config if then else {}):
        code = source.get("code")
        if isinstance(code, str):
            yield code
        elif isinstance(code, dict):
            yield from (text for text in code.values() if isinstance(text, str))


@dataclass(frozen=True)
class Case:
    """One executable case: a single node config (one language), its context and checks."""

    id: str
    theme: str
    description: str
    config: Mapping[str, Any]
    context: Mapping[str, Any]
    context_json: str | None
    generate: Mapping[str, Generator]
    expect: Expectation
    requires: Mapping[str, Requirement]
    then: Step | None
    slow: bool
    differential_ignore: tuple[str, ...]
    source: str
    cancel_after_ms: int | None = None
    close_after_ms: int | None = None
    alone: bool = False

    @property
    def exclusive(self) -> bool:
        """Runs after every other case, alone: it checks this host's process tree, or it
        loads the whole host so much that the time bounds of cases beside it would measure
        that load rather than the backend."""
        return self.alone or self.close_after_ms is not None

    @property
    def language(self) -> str | None:
        language = self.config.get("language")
        return language if isinstance(language, str) else None

    def build_context(self) -> dict[str, Any]:
        """The context to run with: `context`, then `context_json`, then generated values
        (a generator's key may be a dotted path into a nested object: `file.content`)."""
        context: dict[str, Any] = copy.deepcopy(dict(self.context))
        if self.context_json is not None:
            context.update(json.loads(self.context_json))
        for key, generator in self.generate.items():
            *parents, name = key.split(".")
            target = context
            for parent in parents:
                target = target.setdefault(parent, {})
            target[name] = generator.build()
        return context

    def unmet(self, capabilities: Capabilities) -> str | None:
        """Why a backend with these capabilities cannot run this case (None: it can)."""
        for config in (self.config, self.then.config if self.then else None):
            language = (config or {}).get("language")
            if language in LANGUAGES and language not in capabilities.languages:
                declared = ", ".join(sorted(capabilities.languages))
                return f"needs language {language}; the backend declares {declared}"
        return unmet_requirement(self.requires, capabilities)


def _expand(raw: RawCase, theme: str, source: str) -> list[Case]:
    base = raw.full_config
    code = base.get("code")
    if not isinstance(code, dict):
        return [_case(raw, raw.id, base, raw.expect, raw.then, theme, source)]
    cases = []
    for language in LANGUAGES:
        if language not in code:
            continue
        config = {"language": language, **base, "code": code[language]}
        expect = raw.expect
        if language in raw.expect_by_language:
            override = raw.expect_by_language[language]
            expect = Expectation.model_validate(
                {
                    **raw.expect.model_dump(exclude_unset=True),
                    **override.model_dump(exclude_unset=True),
                }
            )
        then = raw.then
        if then is not None and isinstance(then.config.get("code"), dict):
            then_config = {
                "language": language,
                **then.config,
                "code": then.config["code"][language],
            }
            then = then.model_copy(update={"config": then_config})
        cases.append(_case(raw, f"{raw.id}.{language}", config, expect, then, theme, source))
    return cases


def _case(
    raw: RawCase,
    case_id: str,
    config: dict[str, Any],
    expect: Expectation,
    then: Step | None,
    theme: str,
    source: str,
) -> Case:
    return Case(
        id=case_id,
        theme=theme,
        description=raw.description,
        config=config,
        context=raw.context,
        context_json=raw.context_json,
        generate=raw.generate,
        expect=expect,
        requires=raw.requires,
        then=then,
        slow=raw.slow,
        differential_ignore=tuple(raw.differential_ignore),
        source=source,
        cancel_after_ms=raw.cancel_after_ms,
        close_after_ms=raw.close_after_ms,
        alone=raw.alone,
    )


class _CaseFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    description: str = ""
    cases: list[dict[str, Any]] = Field(default_factory=list)


def load_case_file(path: Path) -> list[Case]:
    """Read one theme file; a problem raises `CaseFileError` naming the file and case."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseFileError(f"{path}: not valid TOML: {exc}") from None
    try:
        document = _CaseFile.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = summarize(field_problems(exc, schema=_CaseFile))
        raise CaseFileError(f"{path}: {problems}") from None
    theme = path.stem
    cases: list[Case] = []
    for index, entry in enumerate(document.cases):
        label = entry.get("id") if isinstance(entry.get("id"), str) else f"#{index + 1}"
        try:
            parsed = RawCase.model_validate(entry)
        except pydantic.ValidationError as exc:
            problems = summarize(field_problems(exc, schema=RawCase))
            raise CaseFileError(f"{path}: case {label!r}: {problems}") from None
        except ValueError as exc:  # raised outside pydantic's wrapping (nested helpers)
            raise CaseFileError(f"{path}: case {label!r}: {exc}") from None
        cases.extend(_expand(parsed, theme, str(path)))
    return cases


def load_cases(
    directory: Path | None = None,
    *,
    themes: Iterable[str] | None = None,
    case_ids: Iterable[str] | None = None,
) -> list[Case]:
    """Every case of every `*.toml` in `directory` (default: the packaged cases), in file
    order, optionally only some themes or ids. Ids must be unique across files; asking for
    a theme or an id that does not exist is an error (a typo must not select nothing)."""
    folder = directory if directory is not None else default_cases_dir()
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise CaseFileError(f"{folder}: no case files (*.toml) found")
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in paths:
        for case in load_case_file(path):
            if case.id in seen:
                raise CaseFileError(
                    f"{path}: case {case.id!r}: the id is already used in {seen[case.id]}"
                )
            seen[case.id] = str(path)
            cases.append(case)
    wanted_themes = set(themes or ())
    known_themes = {case.theme for case in cases}
    if wanted_themes - known_themes:
        raise ValidationError(
            "themes",
            f"unknown theme(s) {', '.join(sorted(wanted_themes - known_themes))}",
            ", ".join(sorted(known_themes)),
        )
    wanted_ids = set(case_ids or ())
    unknown_ids = {
        wanted for wanted in wanted_ids if not any(_selects(wanted, case.id) for case in cases)
    }
    if unknown_ids:
        raise ValidationError(
            "case_ids",
            f"unknown case id(s) {', '.join(sorted(unknown_ids))}",
            "ids as listed in parity.md; a two-language case also by its id without the language",
        )
    return [
        case
        for case in cases
        if (not wanted_themes or case.theme in wanted_themes)
        and (not wanted_ids or any(_selects(wanted, case.id) for wanted in wanted_ids))
    ]


def _selects(wanted: str, case_id: str) -> bool:
    """`--case X` selects X itself and, for a two-language case, both `X.python` and `X.js`."""
    return case_id == wanted or case_id in {f"{wanted}.{language}" for language in LANGUAGES}
