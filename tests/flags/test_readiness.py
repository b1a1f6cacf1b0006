"""Tests for turnout.flags.readiness: `flags validate` warns about backends an environment
uses but cannot build, by building them for real with the environment's settings."""

from __future__ import annotations

import io
from typing import ClassVar

import pytest

from turnout.backend import BackendSettings
from turnout.flags import parse_flags
from turnout.flags.readiness import backend_warnings, option_notes
from turnout.log_output import reset as reset_logging
from turnout.logging import configure_logging
from turnout.registry import BackendRegistry, default_registry

from .support import document, flag_file


@pytest.fixture(autouse=True)
def no_e2b_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither a key nor a server URL: where the e2b backend may go is up to the flags."""
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    monkeypatch.delenv("E2B_API_URL", raising=False)


def warnings_for(body: str, *, name: str = "staging") -> list[str]:
    """The warnings for one environment named `name`, with the installed backends."""
    return backend_warnings(flag_file(body, name=name), default_registry())[name]


class TestBackendWarnings:
    def test_shadow_target_without_a_key_outside_development_is_named(self) -> None:
        """Staging in shadow without E2B_API_KEY: the e2b candidate cannot be built, and the
        warning says it runs the shadow comparison, why, and where this was checked."""
        [warning] = warnings_for('stage = "shadow"')
        assert warning.startswith(
            "backend 'e2b' cannot be built here (at shadow it runs the shadow comparison): "
            "the e2b backend has no API key in environment 'staging'"
        )
        assert warning.endswith("(checked in this process, with its environment variables)")

    def test_live_target_without_a_key_is_named_as_answering(self) -> None:
        """A live rollout share makes the target answer; its refusal says so."""
        [warning] = warnings_for('stage = "off"\nrollout = { live = 5 }')
        assert "(at live it answers)" in warning

    def test_a_key_in_this_process_clears_the_warning(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With E2B_API_KEY set here, the e2b backend builds and nothing is reported."""
        monkeypatch.setenv("E2B_API_KEY", "e2b_placeholder_for_readiness_test")
        assert warnings_for('stage = "shadow"') == []

    def test_development_may_use_the_local_server(self) -> None:
        """In development the embedded local server stands in for E2B: no warning."""
        assert warnings_for('stage = "shadow"', name="development") == []

    def test_trial_builds_print_no_event(self) -> None:
        """Building the backends to try them (local-subprocess announces its legacy load)
        sends no event to the handlers the CLI configured: only the warnings are output."""
        stream = io.StringIO()
        configure_logging("staging", json_lines=True, stream=stream)
        try:
            warnings_for('stage = "shadow"')
        finally:
            reset_logging()
        assert stream.getvalue() == ""

    def test_backends_no_stage_uses_are_not_built(self) -> None:
        """At stage off only legacy runs: the e2b backend is not tried, so no warning."""
        assert warnings_for('stage = "off"') == []

    def test_deprecated_backend_where_legacy_may_not_load(self) -> None:
        """A deprecated backend as the target of a complete environment refuses to load
        there (legacy may not load), and the warning names it."""
        [warning] = warnings_for(
            'stage = "complete"\nlegacy_backend = "e2b"\ntarget_backend = "local-subprocess"',
            name="development",
        )
        assert warning.startswith(
            "backend 'local-subprocess' cannot be built here (at complete it answers): "
        )
        assert "legacy_allowed" in warning


class Unmodelled:
    """A backend whose class declares no options model."""

    id: ClassVar[str] = "unmodelled"
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = "no options model"

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings


class TestOptionNotes:
    def test_table_of_a_backend_without_a_model_is_noted(self) -> None:
        """An options table no model checks is noted, so its typos are not thought checked."""
        registry = BackendRegistry()
        registry.add(Unmodelled)
        flags = parse_flags(
            document('stage = "off"\n[environments.prod.backends.unmodelled]\nanything = 1')
        )
        [note] = option_notes(flags, registry)["prod"]
        assert note.startswith("options of backend 'unmodelled' are not checked here")

    def test_tables_of_modelled_backends_are_not_noted(self) -> None:
        """The built-in backends declare their models: nothing to note."""
        flags = flag_file('stage = "off"\n[environments.prod.backends.e2b]\npool_size = 1')
        assert option_notes(flags, default_registry()) == {"prod": []}
