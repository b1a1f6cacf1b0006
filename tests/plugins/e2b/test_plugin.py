"""Tests for turnout_e2b.plugin: the entry point registers the e2b backend lazily."""

from __future__ import annotations

from turnout_e2b import E2BBackend, plugin

from turnout.registry import BackendRegistry


def test_registration_says_what_the_class_says() -> None:
    """The lazy registration loads the class, and agrees with it on id, description,
    deprecation and options model (loading checks each)."""
    assert plugin.BACKEND.load() is E2BBackend
    assert plugin.BACKEND.options_model is E2BBackend.options_model


def test_hook_registers_the_backend_by_name() -> None:
    """The hook adds the e2b backend to the registry it is given, as a lazy entry."""
    registry = BackendRegistry()
    plugin.turnout_register_backends(registry=registry)
    assert registry.ids == ["e2b"]
    assert registry.get("e2b").entry is plugin.BACKEND
