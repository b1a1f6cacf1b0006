"""Selecting backends, building the engine with or without a flag file, describing backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.conformance.backends import (
    build_engine,
    describe_backends,
    flag_target,
    refresh_endpoints,
    select_backends,
)
from turnout.errors import ValidationError

from .support import fake_backend, registry_of


class TestSelectBackends:
    def test_every_registered_backend_by_default(self) -> None:
        """Without a selection, every registered backend is tested, sorted by id."""
        registry = registry_of(fake_backend("b"), fake_backend("a"))
        assert select_backends(registry) == ["a", "b"]

    def test_the_given_order_is_kept(self) -> None:
        """A selection is tested in the order given (the report's columns)."""
        registry = registry_of(fake_backend("b"), fake_backend("a"))
        assert select_backends(registry, ["b", "a", "b"]) == ["b", "a"]

    def test_an_unregistered_backend_is_a_validation_error(self) -> None:
        """Asking for a backend that no plugin registered names the registered ones."""
        with pytest.raises(ValidationError) as caught:
            select_backends(registry_of(fake_backend("a")), ["e3b"])
        assert (caught.value.field, caught.value.allowed) == ("backends", "a")


@pytest.mark.usefixtures("no_flag_file")
class TestBuildEngine:
    def test_without_a_flag_file_an_in_memory_configuration_is_used(self) -> None:
        """A third-party checkout with no feature_flags.toml still gets an engine."""
        engine = build_engine(registry_of(fake_backend("mine")), backend_ids=["mine"])
        assert engine.flags.source == "<conformance defaults>"

    def test_a_flag_file_in_the_working_directory_is_used(self, no_flag_file: Path) -> None:
        """A feature_flags.toml in the current directory configures the engine."""
        (no_flag_file / "feature_flags.toml").write_text(
            'schema_version = 1\n[environments.development]\nstage = "off"\n'
            'legacy_backend = "mine"\ntarget_backend = "other"\n'
        )
        registry = registry_of(fake_backend("mine"), fake_backend("other"))
        engine = build_engine(registry, environment="development")
        assert engine.flags.source == "feature_flags.toml"
        assert flag_target(engine) == "other"

    def test_an_in_memory_configuration_has_no_target_to_mark(self) -> None:
        """Without a flag file no backend is the migration's target."""
        registry = registry_of(fake_backend("mine"), fake_backend("other"))
        assert flag_target(build_engine(registry, backend_ids=["mine", "other"])) is None


@pytest.mark.usefixtures("no_flag_file")
class TestDescribeBackends:
    def test_a_backend_that_cannot_be_constructed_is_unavailable(self) -> None:
        """A constructor failure is reported with its message, not raised."""
        registry = registry_of(fake_backend("ok"), fake_backend("bad", broken="no API key"))
        engine = build_engine(registry, backend_ids=["ok", "bad"])
        ok, bad = describe_backends(engine, ["ok", "bad"])
        assert (ok.unavailable, bad.capabilities) == (None, None)
        assert bad.unavailable is not None
        assert "no API key" in bad.unavailable

    def test_a_backend_without_an_endpoint_runs_locally(self) -> None:
        """Backends that do not say where they run are reported as local."""
        engine = build_engine(registry_of(fake_backend("ok")), backend_ids=["ok"])
        [ok] = refresh_endpoints(engine, describe_backends(engine, ["ok"]))
        assert ok.endpoint == "local"

    def test_an_endpoint_property_is_reported(self) -> None:
        """A backend's `endpoint` (the e2b backend has one) names where it ran."""
        remote = fake_backend("remote")
        remote.endpoint = "https://sandbox.example"  # type: ignore[attr-defined]
        engine = build_engine(registry_of(remote), backend_ids=["remote"])
        [backend] = describe_backends(engine, ["remote"])
        assert backend.endpoint == "https://sandbox.example"

    def test_a_declared_max_concurrency_limits_the_run(self) -> None:
        """The protocol's optional `max_concurrency` member is what the runner stays under."""
        limited = fake_backend("limited")
        limited.max_concurrency = 3  # type: ignore[attr-defined]
        engine = build_engine(registry_of(limited), backend_ids=["limited"])
        [backend] = describe_backends(engine, ["limited"])
        assert backend.max_concurrency == 3
