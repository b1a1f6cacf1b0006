"""The divergence ledger: known differences a person decided to accept, each with a reason.

`conformance/divergences.toml` lists entries of (case id, backend, reason, decision date):

    [[divergence]]
    case = "size.output-flood-stdout.python"
    backend = "my-backend"
    reason = "the platform streams stdout; it is cut at 4 MiB by the gateway, not the backend"
    decided = 2025-01-31

A listed case still runs, as a *strict* expected failure: while it fails it is reported as
an accepted divergence; the day it passes, the run fails until the entry is removed, so
the ledger never outlives the difference it excuses. Cases must not be loosened to pass;
a difference is either fixed or written here.
"""

from __future__ import annotations

import datetime
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from turnout.conformance.cases import CaseFileError
from turnout.field_errors import field_problems, summarize

__all__ = ["Ledger", "LedgerEntry"]


class LedgerEntry(BaseModel):
    """One accepted divergence of one case on one backend."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    case: str = Field(min_length=1)
    backend: str = Field(min_length=1)
    reason: str = Field(min_length=10, description="why the difference is accepted")
    decided: datetime.date = Field(description="when the decision was taken (a TOML date)")


class _LedgerFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    divergence: list[LedgerEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class Ledger:
    """Accepted divergences by (case id, backend id)."""

    entries: tuple[LedgerEntry, ...] = ()
    source: str = "<empty>"

    @classmethod
    def load(cls, path: Path, *, known_cases: Iterable[str] | None = None) -> Ledger:
        """Read and validate a ledger; with `known_cases`, an entry for a case that does not
        exist is an error (the case was renamed or removed: the entry is stale)."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CaseFileError(f"{path}: cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise CaseFileError(f"{path}: not valid TOML: {exc}") from None
        try:
            document = _LedgerFile.model_validate(raw)
        except pydantic.ValidationError as exc:
            problems = summarize(field_problems(exc, schema=_LedgerFile))
            raise CaseFileError(f"{path}: {problems}") from None
        seen: set[tuple[str, str]] = set()
        known = set(known_cases) if known_cases is not None else None
        for entry in document.divergence:
            key = (entry.case, entry.backend)
            if key in seen:
                raise CaseFileError(
                    f"{path}: case {entry.case!r} on {entry.backend!r} is listed twice"
                )
            seen.add(key)
            if known is not None and entry.case not in known:
                raise CaseFileError(
                    f"{path}: case {entry.case!r} (backend {entry.backend!r}) does not exist; "
                    "remove or rename the stale entry"
                )
        return cls(tuple(document.divergence), str(path))

    def entry(self, case_id: str, backend_id: str) -> LedgerEntry | None:
        for entry in self.entries:
            if entry.case == case_id and entry.backend == backend_id:
                return entry
        return None
