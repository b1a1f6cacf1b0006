"""Tests for turnout.registry and turnout.hookspecs: plugin discovery and backend lookup."""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

from turnout import hookspecs, registry
from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError
from turnout.hookspecs import hookimpl
from turnout.registry import (
    DISABLED_PLUGINS_VARIABLE,
    BackendRegistry,
    RegisteredBackend,
    default_registry,
    discover,
)

# Installed entry-point plugins (the real backends) are kept out of these tests, so they
# prove the registry's behaviour and not the state of the venv.
NO_INSTALLED = [entry.name for entry in importlib.metadata.entry_points(group="turnout")]


class CountOptions(pydantic.BaseModel):
    """A minimal strict options model."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    count: int = 1


def make_backend(backend_id: str) -> type[Any]:
    """A minimal backend class with the given id that remembers its settings."""

    class FakeBackend:
        id = backend_id
        deprecated = False
        description = f"fake backend {backend_id}"

        def __init__(self, settings: BackendSettings) -> None:
            self.settings = settings

    return FakeBackend


def make_plugin(name: str, *backend_types: type[Any]) -> types.ModuleType:
    """A module-like plugin object named `name` that registers `backend_types`."""

    @hookimpl
    def turnout_register_backends(registry: BackendRegistry) -> None:
        for backend_type in backend_types:
            registry.add(backend_type)

    plugin = types.ModuleType(name)
    plugin.turnout_register_backends = turnout_register_backends  # type: ignore[attr-defined]
    return plugin


@pytest.fixture
def no_env_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure a TURNOUT_DISABLED_PLUGINS of the outer environment plays no part."""
    monkeypatch.delenv(DISABLED_PLUGINS_VARIABLE, raising=False)


class TestHookspecs:
    def test_project_name(self) -> None:
        """The hook namespace and entry-point group are both `turnout`."""
        assert hookspecs.PROJECT_NAME == "turnout"

    def test_hookimpl_marks_for_turnout(self) -> None:
        """hookimpl marks a function as a turnout hook implementation."""

        @hookimpl
        def turnout_register_backends(registry: BackendRegistry) -> None:
            return None

        assert hasattr(turnout_register_backends, "turnout_impl")

    def test_hookspec_declared(self) -> None:
        """The module declares the turnout_register_backends specification."""
        assert hasattr(hookspecs.turnout_register_backends, "turnout_spec")


class TestBackendRegistryAdd:
    def test_add_direct_records_direct(self) -> None:
        """A class added outside plugin collection is recorded as coming from <direct>."""
        backends = BackendRegistry()
        backend_type = make_backend("fake")
        backends.add(backend_type)
        assert backends.get("fake") == RegisteredBackend(backend_type, "<direct>")

    def test_registered_backend_id(self) -> None:
        """RegisteredBackend.id is the class's id."""
        assert RegisteredBackend(make_backend("abc"), "p").id == "abc"

    def test_same_class_twice_is_fine(self) -> None:
        """Adding the very same class twice is not a conflict."""
        backends = BackendRegistry()
        backend_type = make_backend("fake")
        backends.add(backend_type)
        backends.add(backend_type)
        assert backends.ids == ["fake"]

    def test_two_classes_same_id_conflict(self) -> None:
        """Two different classes with one id raise ConfigurationError."""
        backends = BackendRegistry()
        backends.add(make_backend("fake"))
        with pytest.raises(ConfigurationError, match="'fake' is registered twice"):
            backends.add(make_backend("fake"))

    @pytest.mark.parametrize("bad_id", [None, "", 3])
    def test_class_without_string_id_rejected(self, bad_id: object) -> None:
        """A class without a non-empty string `id` is a configuration error."""
        backend_type = type("NoId", (), {} if bad_id is None else {"id": bad_id})
        with pytest.raises(ConfigurationError, match="without a string class attribute `id`"):
            BackendRegistry().add(backend_type)

    def test_ids_sorted(self) -> None:
        """ids lists the registered ids in sorted order."""
        backends = BackendRegistry()
        for backend_id in ("zeta", "alpha", "mid"):
            backends.add(make_backend(backend_id))
        assert backends.ids == ["alpha", "mid", "zeta"]

    def test_iteration_sorted_by_id(self) -> None:
        """Iterating yields RegisteredBackend entries sorted by id."""
        backends = BackendRegistry()
        for backend_id in ("b", "a"):
            backends.add(make_backend(backend_id))
        assert [entry.id for entry in backends] == ["a", "b"]

    def test_contains(self) -> None:
        """`in` tells whether an id is registered."""
        backends = BackendRegistry()
        backends.add(make_backend("fake"))
        assert "fake" in backends
        assert "other" not in backends


class TestOptionModels:
    def test_option_models_lists_declared_models(self) -> None:
        """option_models maps the ids of backends that declare a model to that model."""
        backends = BackendRegistry()
        with_model = make_backend("with")
        with_model.options_model = CountOptions
        backends.add(with_model)
        backends.add(make_backend("without"))
        assert backends.option_models == {"with": CountOptions}

    def test_options_model_must_be_a_pydantic_model(self) -> None:
        """A class whose options_model is not a pydantic model is refused when added."""
        backend_type = make_backend("odd")
        backend_type.options_model = dict
        with pytest.raises(ConfigurationError, match="'odd' whose `options_model`"):
            BackendRegistry().add(backend_type)

    def test_create_checks_options_against_the_model(self) -> None:
        """create refuses options the model refuses, in the flag file's words."""
        backends = BackendRegistry()
        backend_type = make_backend("counted")
        backend_type.options_model = CountOptions
        backends.add(backend_type)
        with pytest.raises(ConfigurationError) as caught:
            backends.create("counted", BackendSettings(options={"cuont": 2}))
        assert "cuont: unknown key (did you mean 'count'?)" in caught.value.message

    def test_real_backends_declare_their_models(self) -> None:
        """Both built-in backends declare an options model."""
        assert set(discover(disabled=[]).option_models) >= {"e2b", "local-subprocess"}


class TestBackendRegistryGet:
    def test_unknown_id_lists_registered(self) -> None:
        """Looking up an unknown id names it and lists the registered ids."""
        backends = BackendRegistry()
        backends.add(make_backend("beta"))
        backends.add(make_backend("alpha"))
        with pytest.raises(ConfigurationError) as caught:
            backends.get("e2b")
        assert "'e2b'" in caught.value.message
        assert "registered: alpha, beta" in caught.value.message

    def test_unknown_id_in_empty_registry(self) -> None:
        """With nothing registered, the error says none are registered."""
        with pytest.raises(ConfigurationError, match=r"registered: none"):
            BackendRegistry().get("e2b")

    def test_unknown_id_mentions_disable_variable(self) -> None:
        """The error points at TURNOUT_DISABLED_PLUGINS as a possible cause."""
        with pytest.raises(ConfigurationError, match=DISABLED_PLUGINS_VARIABLE):
            BackendRegistry().get("e2b")

    def test_unknown_id_error_not_chained(self) -> None:
        """The KeyError behind a failed lookup is suppressed."""
        with pytest.raises(ConfigurationError) as caught:
            BackendRegistry().get("x")
        assert caught.value.__suppress_context__ is True


class TestBackendRegistryCreate:
    def test_constructs_with_settings(self) -> None:
        """create builds the registered class with the given settings."""
        backends = BackendRegistry()
        backends.add(make_backend("fake"))
        settings = BackendSettings(environment="staging", options={"a": 1}, legacy_allowed=False)
        backend = backends.create("fake", settings)
        assert isinstance(backend, backends.get("fake").backend_type)
        assert backend.settings is settings  # type: ignore[attr-defined]

    def test_create_unknown_id(self) -> None:
        """create of an unknown id raises the same ConfigurationError as get."""
        with pytest.raises(ConfigurationError, match="no backend 'nope'"):
            BackendRegistry().create("nope", BackendSettings())

    def test_backend_refusal_propagates(self) -> None:
        """A backend's own ConfigurationError while constructing reaches the caller unchanged."""
        refusal = ConfigurationError("legacy backend disabled here")

        class Refusing:
            id = "legacy"
            deprecated = True
            description = "refuses"

            def __init__(self, settings: BackendSettings) -> None:
                raise refusal

        backends = BackendRegistry()
        backends.add(Refusing)
        with pytest.raises(ConfigurationError) as caught:
            backends.create("legacy", BackendSettings(legacy_allowed=False))
        assert caught.value is refusal


@pytest.mark.usefixtures("no_env_disabled")
class TestDiscover:
    def test_extra_plugin_registered_with_its_name(self) -> None:
        """A plugin passed as an extra gets its backend registered under the plugin's name."""
        backend_type = make_backend("fake")
        found = discover(
            extra_plugins=[make_plugin("my-plugin", backend_type)], disabled=NO_INSTALLED
        )
        entry = found.get("fake")
        assert entry.backend_type is backend_type
        assert entry.plugin == "my-plugin"

    def test_plugin_can_register_several_backends(self) -> None:
        """One plugin may register several backends, each recorded with that plugin."""
        plugin = make_plugin("multi", make_backend("one"), make_backend("two"))
        found = discover(extra_plugins=[plugin], disabled=NO_INSTALLED)
        assert found.ids == ["one", "two"]
        assert {entry.plugin for entry in found} == {"multi"}

    def test_class_instance_plugin(self) -> None:
        """A plain object whose method is a hookimpl works as a plugin."""
        backend_type = make_backend("fake")

        class Plugin:
            __name__ = "object-plugin"

            @hookimpl
            def turnout_register_backends(self, registry: BackendRegistry) -> None:
                registry.add(backend_type)

        found = discover(extra_plugins=[Plugin()], disabled=NO_INSTALLED)
        assert found.get("fake").plugin == "object-plugin"

    def test_unnamed_plugin_gets_index_name(self) -> None:
        """An extra plugin without __name__ is named after its position."""
        backend_type = make_backend("fake")

        class Plugin:
            @hookimpl
            def turnout_register_backends(self, registry: BackendRegistry) -> None:
                registry.add(backend_type)

        found = discover(
            extra_plugins=[make_plugin("first", make_backend("other")), Plugin()],
            disabled=NO_INSTALLED,
        )
        assert found.get("fake").plugin == "extra-1"

    def test_duplicate_id_names_both_plugins(self) -> None:
        """Two plugins registering different classes under one id: the error names both."""
        plugins = [
            make_plugin("plugin-one", make_backend("shared")),
            make_plugin("plugin-two", make_backend("shared")),
        ]
        with pytest.raises(ConfigurationError) as caught:
            discover(extra_plugins=plugins, disabled=NO_INSTALLED)
        assert "'plugin-one'" in caught.value.message
        assert "'plugin-two'" in caught.value.message
        assert "'shared'" in caught.value.message

    def test_plugin_name_not_leaked_after_collection(self) -> None:
        """After discovery, a direct add is attributed to <direct>, not the last plugin."""
        found = discover(
            extra_plugins=[make_plugin("my-plugin", make_backend("a"))], disabled=NO_INSTALLED
        )
        found.add(make_backend("b"))
        assert found.get("b").plugin == "<direct>"

    def test_disabled_blocks_plugin(self) -> None:
        """A plugin whose name is in `disabled` registers nothing."""
        plugin = make_plugin("blocked", make_backend("fake"))
        found = discover(extra_plugins=[plugin], disabled=[*NO_INSTALLED, "blocked"])
        assert "fake" not in found

    def test_disabled_blocks_only_named_plugin(self) -> None:
        """Blocking one plugin leaves the others registered."""
        plugins = [
            make_plugin("blocked", make_backend("fake")),
            make_plugin("kept", make_backend("other")),
        ]
        found = discover(extra_plugins=plugins, disabled=[*NO_INSTALLED, "blocked"])
        assert found.ids == ["other"]

    def test_environment_variable_honoured(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With disabled=None, TURNOUT_DISABLED_PLUGINS (comma-separated, spaced) blocks."""
        installed = " , ".join(NO_INSTALLED)
        monkeypatch.setenv(DISABLED_PLUGINS_VARIABLE, f" {installed} , env-blocked ,")
        plugins = [
            make_plugin("env-blocked", make_backend("fake")),
            make_plugin("kept", make_backend("other")),
        ]
        found = discover(extra_plugins=plugins)
        assert found.ids == ["other"]

    def test_explicit_disabled_overrides_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An explicit `disabled` list replaces TURNOUT_DISABLED_PLUGINS instead of adding."""
        monkeypatch.setenv(DISABLED_PLUGINS_VARIABLE, "env-blocked")
        plugin = make_plugin("env-blocked", make_backend("fake"))
        found = discover(extra_plugins=[plugin], disabled=NO_INSTALLED)
        assert "fake" in found

    def test_nothing_registered_without_plugins(self) -> None:
        """With installed plugins blocked and no extras, the registry is empty."""
        assert discover(disabled=NO_INSTALLED).ids == []


@pytest.fixture
def install_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str], str]]:
    """Install a throwaway plugin for real: a module file plus a dist-info directory whose
    entry point in the `turnout` group names it, on sys.path. Returns the entry-point name."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def install(entry_name: str, source: str) -> str:
        module = f"throwaway_{entry_name.replace('-', '_')}_{len(modules)}"
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site / f"{module}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[turnout]\n{entry_name} = {module}\n")
        importlib.invalidate_caches()
        modules.append(module)
        return entry_name

    yield install
    for module in modules:
        sys.modules.pop(module, None)


@pytest.mark.usefixtures("no_env_disabled")
class TestPluginChecks:
    def test_misspelt_hook_names_plugin_and_hook(
        self, install_plugin: Callable[[str, str], str]
    ) -> None:
        """An installed plugin implementing `turnout_register_backend` (no s) is refused,
        naming the plugin, the hook, and the hook it most likely meant."""
        install_plugin(
            "typo-plugin",
            """
            from turnout.hookspecs import hookimpl

            @hookimpl
            def turnout_register_backend(registry):
                raise AssertionError("never called")
            """,
        )
        with pytest.raises(ConfigurationError) as caught:
            discover(disabled=NO_INSTALLED)
        message = caught.value.message
        assert "plugin 'typo-plugin' implements hook 'turnout_register_backend'" in message
        assert "(did you mean 'turnout_register_backends'?)" in message
        assert f"{DISABLED_PLUGINS_VARIABLE}=typo-plugin" in message

    def test_hook_without_hookimpl_is_refused(
        self, install_plugin: Callable[[str, str], str]
    ) -> None:
        """A correctly named hook function without @hookimpl is refused, not ignored."""
        install_plugin(
            "unmarked",
            """
            def turnout_register_backends(registry):
                raise AssertionError("never called")
            """,
        )
        with pytest.raises(ConfigurationError) as caught:
            discover(disabled=NO_INSTALLED)
        assert (
            "plugin 'unmarked' defines 'turnout_register_backends' without @hookimpl"
            in caught.value.message
        )

    def test_wrong_hook_argument_is_refused_naming_the_plugin(
        self, install_plugin: Callable[[str, str], str]
    ) -> None:
        """An implementation whose arguments the hook does not provide names its plugin."""
        install_plugin(
            "bad-args",
            """
            from turnout.hookspecs import hookimpl

            @hookimpl
            def turnout_register_backends(backends):
                raise AssertionError("never called")
            """,
        )
        with pytest.raises(ConfigurationError, match="plugin 'bad-args' cannot be loaded"):
            discover(disabled=NO_INSTALLED)

    def test_installed_plugin_registers_through_its_entry_point(
        self, install_plugin: Callable[[str, str], str]
    ) -> None:
        """A well-formed throwaway plugin is found and its backend attributed to it."""
        install_plugin(
            "good-plugin",
            """
            from turnout.hookspecs import hookimpl

            class GoodBackend:
                id = "good"
                deprecated = False
                description = "a throwaway backend"

            @hookimpl
            def turnout_register_backends(registry):
                registry.add(GoodBackend)
            """,
        )
        assert discover(disabled=NO_INSTALLED).get("good").plugin == "good-plugin"

    def test_hook_wrappers_see_every_plugins_registration(self) -> None:
        """Registration goes through pluggy's call loop: a wrapper runs around each plugin's
        call and sees what it added."""
        seen: list[list[str]] = []

        class Watcher:
            __name__ = "watcher"

            @hookimpl(wrapper=True)
            def turnout_register_backends(self, registry: BackendRegistry) -> Iterator[None]:
                before = set(registry.ids)
                yield
                seen.append(sorted(set(registry.ids) - before))

        plugins = [
            make_plugin("one", make_backend("a")),
            make_plugin("two", make_backend("b")),
            Watcher(),
        ]
        found = discover(extra_plugins=plugins, disabled=NO_INSTALLED)
        assert sorted(seen) == [["a"], ["b"]]
        assert (found.get("a").plugin, found.get("b").plugin) == ("one", "two")


class TestDefaultRegistry:
    @pytest.fixture(autouse=True)
    def fresh_cache(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        """Discover with installed plugins blocked and clear the process cache around the test."""
        monkeypatch.setenv(DISABLED_PLUGINS_VARIABLE, ",".join(NO_INSTALLED))
        default_registry.cache_clear()
        yield
        default_registry.cache_clear()

    def test_reused(self) -> None:
        """default_registry discovers once and returns the same registry afterwards."""
        assert default_registry() is default_registry()

    def test_discovers_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """default_registry calls discover only on first use."""
        calls: list[int] = []
        real: Callable[..., BackendRegistry] = registry.discover

        def counting(*args: Any, **kwargs: Any) -> BackendRegistry:
            calls.append(1)
            return real(*args, **kwargs)

        monkeypatch.setattr(registry, "discover", counting)
        default_registry()
        default_registry()
        assert calls == [1]
