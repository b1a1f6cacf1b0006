"""The conformance case schema: what a case file may say, validated strictly.

A case is data, not code, so every backend is held to the same text and a reader can see
what is promised without reading Python. Validation is strict (unknown keys, wrong types
and values JSON cannot carry are refused) because a typo in an expectation would otherwise
silently test nothing; `turnout.conformance.cases` loads the files with these models and
reports each problem naming the file and the case.

A case whose `config.code` is a table `{python = "...", javascript = "..."}` is written once
and expands into one case per language; per-language differences in the expectations go in
`expect_by_language.<language>`. Code may carry placeholders (`PLACEHOLDER`), substituted
just before running.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from turnout.conformance.requirements import Requirement
from turnout.envelope import OutputChannel
from turnout.errors import ErrorKind
from turnout.models import Capabilities

__all__ = [
    "CAPABILITY_PLACEHOLDERS",
    "LANGUAGES",
    "PLACEHOLDER",
    "ErrorExpectation",
    "Expectation",
    "Generator",
    "RawCase",
    "Shape",
    "Step",
    "check_json_value",
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
    kind: ErrorKind | None = None
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
    output_channel: OutputChannel | None = None
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
