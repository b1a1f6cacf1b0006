from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from turnout_local_subprocess import LocalSubprocessBackend, plugin

from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError
from turnout.registry import BackendRegistry, discover


def discover_only_this_plugin() -> BackendRegistry:
    """Discover with every other installed entry point blocked, so their state cannot matter."""
    others = {ep.name for ep in entry_points(group="turnout")} - {"local-subprocess"}
    return discover(disabled=others)


class TestPlugin:
    """The entry point registers the backend class without constructing it."""

    def test_discovered_through_the_entry_point(self):
        """turnout.registry.discover() finds local-subprocess from the installed entry point."""
        registered = discover_only_this_plugin().get("local-subprocess")
        assert registered.backend_type is LocalSubprocessBackend
        assert registered.plugin == "local-subprocess"

    def test_blocked_plugin_is_not_loaded(self):
        """Disabling the entry point by name keeps the backend out of the registry."""
        others = {ep.name for ep in entry_points(group="turnout")}
        assert "local-subprocess" not in discover(disabled=others)

    def test_hook_adds_the_class(self):
        """The hook implementation adds the class to the registry it is given."""
        registry = BackendRegistry()
        plugin.turnout_register_backends(registry=registry)
        assert registry.ids == ["local-subprocess"]

    def test_registry_create_honours_the_legacy_flag(self):
        """Creating through the registry refuses where legacy backends are disallowed."""
        settings = BackendSettings(environment="production", legacy_allowed=False)
        with pytest.raises(ConfigurationError, match="legacy_allowed = false"):
            discover_only_this_plugin().create("local-subprocess", settings)

    def test_registration_says_what_the_class_says(self):
        """The lazy registration loads the class, and agrees with it on id, description,
        deprecation and options model (loading checks each)."""
        assert plugin.BACKEND.load() is LocalSubprocessBackend
        assert plugin.BACKEND.options_model is LocalSubprocessBackend.options_model
