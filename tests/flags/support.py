"""Helpers shared by the flag tests: small flag files built from TOML fragments."""

from __future__ import annotations

import pytest

from turnout.errors import ConfigurationError
from turnout.flags import EnvironmentFlags, FlagFile, FlagFileError, Problem, parse_flags

KNOWN = ("e2b", "local-subprocess")
SOURCE = "flags.toml"
ENV = "prod"


def document(body: str, *, name: str = ENV) -> str:
    """A whole flag file with one environment whose table holds `body`."""
    return f"schema_version = 1\n[environments.{name}]\n{body.strip()}\n"


def flag_file(body: str, *, name: str = ENV) -> FlagFile:
    """The parsed file with one environment (backend ids checked against KNOWN)."""
    return parse_flags(document(body, name=name), source=SOURCE, known_backends=KNOWN)


def environment(body: str, *, name: str = ENV) -> EnvironmentFlags:
    """One parsed environment."""
    return flag_file(body, name=name).environment(name)


def problems(text: str, *, known: tuple[str, ...] | None = KNOWN) -> tuple[Problem, ...]:
    """The problems parse_flags reports for `text` (which must be invalid)."""
    with pytest.raises(ConfigurationError) as caught:
        parse_flags(text, source=SOURCE, known_backends=known)
    assert isinstance(caught.value, FlagFileError)
    return caught.value.problems


def only_problem(text: str, *, known: tuple[str, ...] | None = KNOWN) -> Problem:
    """The single problem reported for `text`."""
    found = problems(text, known=known)
    assert len(found) == 1, found
    return found[0]
