"""Tests for turnout.flag_source: what Client(flags=...) accepts and where None looks."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.errors import ConfigurationError
from turnout.flag_source import flag_source
from turnout.flags import FlagFile, FlagReloader, parse_flags

KNOWN = ("e2b", "local-subprocess")
TEXT = 'schema_version = 1\n[environments.test]\nstage = "off"\n'


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No TURNOUT_FLAGS_FILE and an empty current directory."""
    monkeypatch.delenv("TURNOUT_FLAGS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_mapping_is_validated_against_the_known_backends() -> None:
    """A backend id the registry does not know is refused, located by key path."""
    data = {"schema_version": 1, "environments": {"test": {"stage": "off", "legacy_backend": "x"}}}
    with pytest.raises(ConfigurationError, match=r"^<flags>: environments.test.legacy_backend"):
        flag_source(data, known_backends=KNOWN)


def test_a_flag_file_is_used_as_it_is() -> None:
    """A FlagFile passes through untouched."""
    flags = parse_flags(TEXT)
    assert flag_source(flags, known_backends=KNOWN) is flags


def test_a_path_is_watched(tmp_path: Path) -> None:
    """A path gives a reloader of that file."""
    path = tmp_path / "flags.toml"
    path.write_text(TEXT)
    source = flag_source(str(path), known_backends=KNOWN)
    assert isinstance(source, FlagReloader)
    assert source.path == path


def test_none_reads_the_variable_first(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TURNOUT_FLAGS_FILE wins over ./feature_flags.toml."""
    named, local = nowhere / "named.toml", nowhere / "feature_flags.toml"
    named.write_text(TEXT)
    local.write_text(TEXT)
    monkeypatch.setenv("TURNOUT_FLAGS_FILE", str(named))
    source = flag_source(None, known_backends=KNOWN)
    assert isinstance(source, FlagReloader)
    assert source.path == named


def test_none_then_reads_the_current_directory(nowhere: Path) -> None:
    """Without the variable, ./feature_flags.toml is read."""
    (nowhere / "feature_flags.toml").write_text(TEXT)
    source = flag_source(None, known_backends=KNOWN)
    assert isinstance(source, FlagReloader)
    assert source.current().environment("test").stage == "off"


def test_none_without_any_names_all_three_ways(nowhere: Path) -> None:
    """Nothing to find: one error naming Client(flags=...), the variable and the file."""
    with pytest.raises(ConfigurationError) as caught:
        flag_source(None, known_backends=KNOWN)
    message = caught.value.message
    for way in ("Client(flags=...)", "TURNOUT_FLAGS_FILE", "feature_flags.toml", str(nowhere)):
        assert way in message


def test_a_variable_naming_no_file_says_so(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A TURNOUT_FLAGS_FILE that names nothing is an error naming the variable's value."""
    monkeypatch.setenv("TURNOUT_FLAGS_FILE", str(nowhere / "missing.toml"))
    with pytest.raises(ConfigurationError, match=r"TURNOUT_FLAGS_FILE names .*missing\.toml"):
        flag_source(None, known_backends=KNOWN)


def test_anything_else_is_refused() -> None:
    """An int is neither data nor a path: a ConfigurationError saying what is accepted."""
    with pytest.raises(ConfigurationError, match="a mapping, a path or a FlagFile, not int"):
        flag_source(3, known_backends=KNOWN)  # type: ignore[arg-type]


def test_flag_file_type_is_exported() -> None:
    """FlagFile is importable from turnout for annotations."""
    import turnout

    assert turnout.FlagFile is FlagFile
