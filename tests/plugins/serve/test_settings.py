"""What `turnout serve` checks before it binds: tokens, and never an open public address."""

from __future__ import annotations

from pathlib import Path

import pytest
from turnout_serve.command import register
from turnout_serve.settings import ServiceSettings, is_loopback, load_tokens

from turnout.errors import ConfigurationError


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.7", "turnout.internal"])
def test_a_public_address_without_a_token_is_refused(host: str) -> None:
    """Binding anything but loopback with no token is a ConfigurationError naming the fix."""
    with pytest.raises(ConfigurationError, match="TURNOUT_SERVICE_TOKENS"):
        ServiceSettings(host=host)


def test_a_public_address_with_a_token_is_allowed() -> None:
    """With a token, any address may be bound."""
    assert ServiceSettings(host="0.0.0.0", tokens=frozenset({"t"})).auth_required


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_needs_no_token(host: str) -> None:
    """Loopback addresses are reachable from this machine only."""
    assert is_loopback(host)
    assert not ServiceSettings(host=host).auth_required


def test_tokens_come_from_the_variable_and_the_file(tmp_path: Path) -> None:
    """Comma-separated tokens of the variable and the lines of the file are all accepted;
    blanks and comments are skipped."""
    file = tmp_path / "tokens"
    file.write_text("# rotated monthly\nfile-token\n\n", encoding="utf-8")
    tokens = load_tokens(file, {"TURNOUT_SERVICE_TOKENS": " one, two ,,"})
    assert tokens == {"one", "two", "file-token"}


def test_a_token_with_whitespace_is_refused() -> None:
    """A token with a space inside is a mistake (a separator), refused."""
    with pytest.raises(ConfigurationError, match="whitespace"):
        load_tokens(None, {"TURNOUT_SERVICE_TOKENS": "one two"})


def test_an_unreadable_token_file_is_named(tmp_path: Path) -> None:
    """A token file that cannot be read is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match="--token-file"):
        load_tokens(tmp_path / "missing", {})


def test_the_command_refuses_zero_limits() -> None:
    """`--max-concurrency 0` is a usage error (exit 2), not a service that refuses all."""
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["serve", "--max-concurrency", "0"])
    assert exited.value.code == 2
