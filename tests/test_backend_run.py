"""Tests for one run on one backend (turnout.backend_run): the capability checks that
refuse a node before anything is prepared."""

from __future__ import annotations

import pytest

from turnout import Engine, ValidationError, parse_config
from turnout.backend_run import _check_capabilities


def test_timeout_above_the_backends_maximum_is_refused() -> None:
    """A node asking for more time than the backend allows fails validation on timeout."""
    caps = Engine("test").backend("local-subprocess").capabilities
    narrowed = caps.model_copy(update={"max_timeout_ms": 10_000})
    config = parse_config({"language": "python", "code": "1", "timeout": 20_000})
    with pytest.raises(ValidationError) as caught:
        _check_capabilities(config, "local-subprocess", narrowed)
    assert caught.value.field == "timeout"


def test_validation_error_is_raised_for_unsupported_language() -> None:
    """The capability check names the language field."""
    backend_caps = Engine("test").backend("local-subprocess").capabilities
    narrowed = backend_caps.model_copy(update={"languages": frozenset({"python"})})
    config = parse_config({"language": "javascript", "code": "1"})
    with pytest.raises(ValidationError) as caught:
        _check_capabilities(config, "local-subprocess", narrowed)
    assert caught.value.field == "language"
