"""The data that crosses turnout's layers, validated once at the edge.

- `CodeNodeConfig`: a code node's settings exactly as the platform stores them (camelCase).
- `ExecutionRequest` / `ExecutionResult`: what the contract layer hands a backend and gets
  back. A backend moves bytes; it never sees a workflow context or a node config.
- `Capabilities`: what a backend promises, so the conformance suite can hold it to that.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from turnout.errors import ValidationError
from turnout.field_errors import field_problems, summarize

__all__ = [
    "MAX_TIMEOUT_MS",
    "Capabilities",
    "CodeNodeConfig",
    "ExecutionRequest",
    "ExecutionResult",
    "Language",
    "Termination",
    "parse_config",
    "parse_labels",
]

Language = Literal["javascript", "python"]
Termination = Literal["exited", "timeout", "memory", "killed"]
MAX_TIMEOUT_MS = 300_000
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _no_items() -> list[str]:
    """An empty list, as a field's default factory. Not `list` itself: pydantic reads a
    factory's signature, and a builtin's is parsed with `tokenize`, whose pattern then costs
    every process about 5 ms of CPU to compile."""
    return []


class CodeNodeConfig(BaseModel):
    """A code node's stored settings. Unknown fields are kept aside and reported, never used.

    `timeout` is in milliseconds. Values under 1000 are honoured as milliseconds but produce
    a warning, because one UI stores seconds (a stored `30` means 30 ms here, not 30 s).
    `memory`, `allowNetworkAccess` and `allowFileSystemAccess` are accepted because stored
    nodes carry them; they are advisory (the old executor never enforced them): the limits
    that hold are the backend's, listed in its capabilities.
    """

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    language: Language
    code: str = Field(min_length=1)
    timeout: int = Field(default=30_000, ge=1, le=MAX_TIMEOUT_MS)
    memory: int = Field(default=128, ge=1, le=512)
    input_variables: list[str] = Field(default_factory=_no_items, alias="inputVariables")
    output_variable: str | None = Field(default=None, alias="outputVariable")
    allow_network_access: bool = Field(default=False, alias="allowNetworkAccess")
    allow_file_system_access: bool = Field(default=False, alias="allowFileSystemAccess")
    side_effect_free: bool = Field(default=False, alias="sideEffectFree")

    @field_validator("input_variables", mode="before")
    @classmethod
    def _none_means_all(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("output_variable", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("output_variable")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not IDENTIFIER.fullmatch(value):
            raise ValueError("must be an identifier matching ^[A-Za-z_][A-Za-z0-9_]*$")
        return value

    @property
    def unknown_fields(self) -> list[str]:
        """Names of stored fields turnout does not know (for example the UI's `memoryLimit`)."""
        return sorted(self.model_extra or {})

    @property
    def warnings(self) -> list[str]:
        """Things about this config a human should look at; they never change the behaviour."""
        notes = [f"unknown config field {name!r} ignored" for name in self.unknown_fields]
        if self.timeout < 1000:
            notes.append(
                f"timeout is {self.timeout} ms; turnout reads timeout in milliseconds "
                f"(if your editor stored seconds, store {self.timeout * 1000} instead)"
            )
        return notes


def parse_config(raw: object) -> CodeNodeConfig:
    """Validate a stored node config, turning pydantic's report into one `ValidationError`.

    The error names the first offending field as stored (camelCase) and says what is
    allowed; further problems are appended to the message so one round trip shows all.
    """
    if isinstance(raw, CodeNodeConfig):
        return raw
    if not isinstance(raw, dict):
        raise ValidationError("config", f"must be a JSON object, got {type(raw).__name__}")
    if raw.get("language") == "typescript":
        raise ValidationError(
            "language",
            "typescript code nodes are not supported yet",
            "javascript, python; remove the type annotations and store the node as javascript",
        )
    try:
        return CodeNodeConfig.model_validate(raw)
    except pydantic.ValidationError as exc:
        first, *others = field_problems(exc, schema=CodeNodeConfig)
        extra = summarize(others)
        raise ValidationError(
            first.field or "config",
            first.message + (f"; also {extra}" if extra else ""),
            _ALLOWED.get(first.path[0] if first.path else ""),
        ) from None


_LABELS: pydantic.TypeAdapter[dict[str, str]] = pydantic.TypeAdapter(dict[str, str])


def parse_labels(raw: object) -> dict[str, str]:
    """Check a caller's labels (`{"tenant": "acme"}`): text keys and text values, each
    wrong entry named (`labels.tenant: must be a string, not an integer (5)`)."""
    if raw is None:
        return {}
    try:
        return dict(_LABELS.validate_python(raw, strict=True))
    except pydantic.ValidationError as exc:
        first, *others = field_problems(exc, schema=dict[str, str], prefix=("labels",))
        extra = summarize(others)
        raise ValidationError(
            first.field,
            first.message + (f"; also {extra}" if extra else ""),
            'a mapping of text to text, such as {"tenant": "acme", "workflow": "wf-1"}',
        ) from None


_ALLOWED = {
    "language": "'javascript' or 'python'",
    "code": "a non-empty string",
    "timeout": f"an integer number of milliseconds from 1 to {MAX_TIMEOUT_MS}",
    "memory": "an integer number of megabytes from 1 to 512",
    "inputVariables": "a list of context key names (empty or missing: the whole context)",
    "outputVariable": "an identifier such as 'summary', or null",
    "allowNetworkAccess": "true or false",
    "allowFileSystemAccess": "true or false",
    "sideEffectFree": "true or false (true lets the migration run the node twice to compare)",
}


class ExecutionRequest(BaseModel):
    """A prepared program for a backend to run once, in a fresh and isolated place.

    Paths in `files` and `result_path` are relative to the execution's working directory.
    The backend writes `files` before starting `program`, runs it with `language`'s
    interpreter, and returns the bytes found at `result_path` afterwards (at most
    `max_result_bytes`). Everything a workflow means lives inside `program`.
    """

    model_config = ConfigDict(frozen=True)

    execution_id: str
    language: Language
    program: str
    files: dict[str, bytes] = Field(default_factory=dict)
    result_path: str
    timeout_ms: int = Field(ge=1, le=MAX_TIMEOUT_MS)
    max_result_bytes: int = Field(ge=1)
    labels: dict[str, str] = Field(default_factory=dict)


class ExecutionResult(BaseModel):
    """What a backend observed. User-code failures are data here, not exceptions.

    `termination` says how the program ended: on its own (`exited`, with `exit_code`),
    stopped at the wall-clock bound (`timeout`), stopped for exceeding memory (`memory`),
    or ended from outside for another reason (`killed`). `result` is None when the program
    never wrote its result file.

    `usage` is what the execution consumed that someone pays for, as numbers keyed by their
    envelope name (the e2b backend: `sandboxSeconds`, `poolIdleSeconds`, `costUsd`; see
    turnout_e2b.cost). The engine copies it into the envelope's `metadata` and the
    `code_node_executed` event; a backend that bills nothing leaves it empty.
    """

    model_config = ConfigDict(frozen=True)

    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    result: bytes | None = None
    result_too_large: bool = False
    termination: Termination = "exited"
    exit_code: int | None = None
    sandbox_id: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    usage: dict[str, float] = Field(default_factory=dict)


class Capabilities(BaseModel):
    """What a backend declares it can do. The conformance suite tests each declaration."""

    model_config = ConfigDict(frozen=True)

    languages: frozenset[Language]
    isolation: Literal["process", "namespace", "microvm"]
    network_access: bool
    max_timeout_ms: int
    max_output_bytes: int = Field(description="cap on each of stdout and stderr")
    max_result_bytes: int
    memory_limit_mb: int | None
    memory_enforcement: Literal["cgroup", "rlimit", "sandbox", "none"]
    host_environment_visible: bool = False
    supports_typescript: bool = False
    persistent_filesystem: bool = False
    code_runs_as_worker_user: bool = False  # True: code can reach what the worker can
    packages: Mapping[Language, frozenset[str]] = Field(
        default_factory=dict,
        description="per language, the top-level modules user code can import (Python import "
        "names; Node built-ins and npm package names); a language not listed is not declared "
        "(see turnout.packages; a backend may give a `ProbedPackages`, found out when read)",
    )

    @field_serializer("packages")
    def _sorted_packages(self, packages: Mapping[Language, frozenset[str]]) -> dict[str, list[str]]:
        return {language: sorted(names) for language, names in sorted(packages.items())}
