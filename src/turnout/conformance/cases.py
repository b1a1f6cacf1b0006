"""Conformance cases: finding, reading and expanding the case files.

Files live in one directory, one file per theme (`inputs.toml`, `timeouts.toml`, ...); the
theme is the file's stem. The canonical copy is `conformance/` at the root of a source
checkout; wheels carry it as `turnout/conformance/data/` (see `default_data_dir`). Each
file is validated against the schema (`turnout.conformance.case_schema`); every problem is
reported as a `CaseFileError` naming the file and the case. A case written once for both
languages expands into one `Case` per language, `<id>.python` and `<id>.javascript`.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from turnout.conformance.case_schema import LANGUAGES, Expectation, Generator, RawCase, Step
from turnout.conformance.requirements import Requirement, unmet_requirement
from turnout.errors import ConfigurationError, ValidationError
from turnout.field_errors import field_problems, summarize
from turnout.models import Capabilities

__all__ = [
    "Case",
    "CaseFileError",
    "default_cases_dir",
    "default_data_dir",
    "default_ledger_path",
    "load_case_file",
    "load_cases",
]


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
