"""Tests for turnout.registry, turnout.plugin_loading and turnout.hookspecs: plugin discovery,
broken plugins, and backend lookup."""

from __future__ import annotations

import importlib.metadata
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
    Distribution,
    PluginIssue,
    RegisteredBackend,
    default_registry,
    discover,
)

from .plugin_site import BROKEN_PLUGINS, Breakage, PluginSite, breakage

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
        with pytest.raises(ConfigurationError, match="has no string class attribute `id`"):
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
        """A failed lookup's error carries no chained exception (no KeyError in tracebacks)."""
        with pytest.raises(ConfigurationError) as caught:
            BackendRegistry().get("x")
        assert (caught.value.__cause__, caught.value.__context__) == (None, None)


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

    def test_duplicate_id_is_unavailable_naming_both_plugins(self) -> None:
        """Two plugins registering different classes under one id: the id is unavailable,
        and looking it up names both plugins."""
        plugins = [
            make_plugin("plugin-one", make_backend("shared")),
            make_plugin("plugin-two", make_backend("shared")),
        ]
        found = discover(extra_plugins=plugins, disabled=NO_INSTALLED)
        assert "shared" not in found
        with pytest.raises(ConfigurationError) as caught:
            found.get("shared")
        assert "'plugin-one'" in caught.value.message
        assert "'plugin-two'" in caught.value.message
        assert "'shared' is registered by several plugins" in caught.value.message

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
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """A directory on sys.path into which throwaway plugins are installed for real."""
    installed = PluginSite(tmp_path / "site", monkeypatch)
    yield installed
    installed.remove_modules()


GOOD_PLUGIN = """
from turnout.hookspecs import hookimpl

class GoodBackend:
    id = "good"
    deprecated = False
    description = "a throwaway backend"

@hookimpl
def turnout_register_backends(registry):
    registry.add(GoodBackend)
"""

BREAKING_AT_DISCOVERY = [breakage for breakage in BROKEN_PLUGINS if breakage.severity != "none"]


def issue_of(found: BackendRegistry, plugin: str) -> PluginIssue:
    """The one issue recorded for `plugin`."""
    [issue] = [issue for issue in found.issues if issue.plugin == plugin]
    return issue


@pytest.mark.usefixtures("no_env_disabled")
class TestBrokenPlugins:
    @pytest.mark.parametrize(
        "broken", BREAKING_AT_DISCOVERY, ids=[known.name for known in BREAKING_AT_DISCOVERY]
    )
    def test_broken_plugin_is_an_issue_and_a_healthy_one_still_registers(
        self, site: PluginSite, broken: Breakage
    ) -> None:
        """Each way of breaking is one issue naming the plugin's distribution and its error
        on one line, while a healthy plugin installed next to it registers as usual."""
        origins = {name: site.install(name, source) for name, source in broken.plugins.items()}
        site.install("good", GOOD_PLUGIN)
        found = discover(disabled=NO_INSTALLED)
        assert found.get("good").plugin == "good"
        issue = issue_of(found, broken.plugin)
        assert (issue.severity, issue.distribution) == (
            broken.severity,
            Distribution(origins[broken.plugin], "0.1"),
        )
        assert broken.reason in issue.message
        assert "\n" not in issue.message

    def test_import_error_leaves_the_plugin_out_with_its_traceback(self, site: PluginSite) -> None:
        """A module that does not import is left out; its traceback is kept for --verbose."""
        site.install("typo", breakage("entry point does not import").plugins["typo"])
        issue = issue_of(discover(disabled=NO_INSTALLED), "typo")
        assert issue.left_out
        assert issue.traceback is not None
        assert "Traceback" in issue.traceback
        assert "ModuleNotFoundError" in issue.traceback

    def test_misspelt_hook_names_the_hook_it_meant(self, site: PluginSite) -> None:
        """A plugin implementing `turnout_register_backend` (no s) is left out, unregistered,
        with the hook it most likely meant and how to disable it."""
        site.install("misspelt", breakage("misspelt hook").plugins["misspelt"])
        found = discover(disabled=NO_INSTALLED)
        issue = issue_of(found, "misspelt")
        assert "(did you mean 'turnout_register_backends'?)" in issue.message
        assert f"{DISABLED_PLUGINS_VARIABLE}=misspelt" in issue.describe()
        assert found.plugin_manager is not None
        assert not found.plugin_manager.has_plugin("misspelt")

    def test_hook_without_hookimpl_is_left_out(self, site: PluginSite) -> None:
        """A correctly named hook function without @hookimpl is an issue, not ignored."""
        site.install("unmarked", "def turnout_register_backends(registry):\n    pass\n")
        issue = issue_of(discover(disabled=NO_INSTALLED), "unmarked")
        assert "defines 'turnout_register_backends' without @hookimpl" in issue.message
        assert issue.left_out

    def test_wrong_hook_argument_is_left_out_naming_the_plugin(self, site: PluginSite) -> None:
        """An implementation whose arguments the hook does not provide is refused by pluggy,
        which leaves that plugin out."""
        site.install(
            "bad-args",
            "from turnout.hookspecs import hookimpl\n\n"
            "@hookimpl\ndef turnout_register_backends(backends):\n    pass\n",
        )
        issue = issue_of(discover(disabled=NO_INSTALLED), "bad-args")
        assert issue.message.startswith("cannot be registered: ")
        assert "backends" in issue.message

    def test_backend_of_a_plugin_whose_hook_raised_is_unavailable(self, site: PluginSite) -> None:
        """What a plugin registered before its hook raised is taken back: looking it up names
        the plugin, its distribution and the error."""
        raising = breakage("hook raises")
        origin = site.install("raising", raising.plugins["raising"])
        found = discover(disabled=NO_INSTALLED)
        assert "half" not in found
        assert [entry.id for entry in found.unavailable] == ["half"]
        with pytest.raises(ConfigurationError) as caught:
            found.get("half")
        message = caught.value.message
        assert f"plugin 'raising' (distribution {origin} 0.1)" in message
        assert "RuntimeError: plugin setup failed" in message

    def test_unknown_id_names_a_plugin_broken_before_registering(self, site: PluginSite) -> None:
        """While a plugin that never registered is broken, an unknown id may be one of its:
        the lookup error names that plugin and its error."""
        origin = site.install("typo", breakage("entry point does not import").plugins["typo"])
        with pytest.raises(ConfigurationError) as caught:
            discover(disabled=NO_INSTALLED).get("tempdir")
        message = caught.value.message
        assert f"plugin 'typo' (distribution {origin} 0.1)" in message
        assert "No module named 'turnout_no_such_module_anywhere'" in message

    def test_known_ids_are_unchecked_while_a_plugin_broke_before_registering(
        self, site: PluginSite
    ) -> None:
        """known_ids is None while a broken plugin may provide any id, so a flag file naming
        its backend does not stop the engine for the healthy ones."""
        site.install("typo", breakage("entry point does not import").plugins["typo"])
        assert discover(disabled=NO_INSTALLED).known_ids is None

    def test_known_ids_include_unavailable_backends(self, site: PluginSite) -> None:
        """known_ids holds the usable ids and those a broken plugin registered."""
        site.install("raising", breakage("hook raises").plugins["raising"])
        site.install("good", GOOD_PLUGIN)
        assert discover(disabled=NO_INSTALLED).known_ids == ["good", "half"]

    def test_plugin_registering_nothing_is_a_warning_not_an_error(self, site: PluginSite) -> None:
        """A plugin with no hooks stays loaded, with a warning that names it."""
        site.install("idle", breakage("registers nothing").plugins["idle"])
        issue = issue_of(discover(disabled=NO_INSTALLED), "idle")
        assert (issue.severity, issue.left_out) == ("warning", False)
        assert issue.describe().startswith("plugin 'idle' (distribution throwaway-idle-0 0.1)")

    def test_hook_that_adds_no_backend_is_a_warning(self) -> None:
        """A plugin whose registering hook adds nothing gets a warning saying so."""
        found = discover(extra_plugins=[make_plugin("adds-none")], disabled=NO_INSTALLED)
        issue = issue_of(found, "adds-none")
        assert issue.severity == "warning"
        assert "registered no backends" in issue.message

    def test_conflict_leaves_each_plugins_other_backends_available(self) -> None:
        """Only the shared id is unavailable: each plugin's other backends still serve."""
        plugins = [
            make_plugin("plugin-one", make_backend("shared"), make_backend("a")),
            make_plugin("plugin-two", make_backend("shared"), make_backend("b")),
        ]
        found = discover(extra_plugins=plugins, disabled=NO_INSTALLED)
        assert found.ids == ["a", "b"]
        assert [(entry.id, entry.plugin) for entry in found.unavailable] == [
            ("shared", "plugin-one"),
            ("shared", "plugin-two"),
        ]

    def test_each_plugin_of_a_conflict_is_told_which_other_plugin_claims_the_id(self) -> None:
        """Each of two plugins claiming one id gets an issue naming the other (not itself
        again) and saying the id is unavailable."""
        plugins = [
            make_plugin("plugin-one", make_backend("shared")),
            make_plugin("plugin-two", make_backend("shared")),
        ]
        found = discover(extra_plugins=plugins, disabled=NO_INSTALLED)
        assert [issue_of(found, name).message for name in ("plugin-one", "plugin-two")] == [
            "registers backend id 'shared', as plugin 'plugin-two' does, so that id is unavailable",
            "registers backend id 'shared', as plugin 'plugin-one' does, so that id is unavailable",
        ]

    def test_a_conflict_of_three_names_the_two_others_in_each_issue(self) -> None:
        """With three plugins claiming one id, each issue names the two others."""
        plugins = [make_plugin(name, make_backend("shared")) for name in ("a", "b", "c")]
        found = discover(extra_plugins=plugins, disabled=NO_INSTALLED)
        assert issue_of(found, "b").message == (
            "registers backend id 'shared', as plugin 'a' and plugin 'c' do, so that id is "
            "unavailable"
        )

    def test_claim_of_a_plugin_that_then_breaks_is_withdrawn(self) -> None:
        """A plugin that claims a taken id and then raises is left out; the first plugin
        keeps its backend."""
        first = make_backend("shared")

        class Claimer:
            __name__ = "claimer"

            @hookimpl
            def turnout_register_backends(self, registry: BackendRegistry) -> None:
                registry.add(make_backend("shared"))
                raise RuntimeError("broke after claiming")

        found = discover(
            extra_plugins=[make_plugin("first", first), Claimer()], disabled=NO_INSTALLED
        )
        assert found.get("shared").backend_type is first
        assert issue_of(found, "claimer").left_out

    def test_same_entry_point_name_in_two_distributions_is_a_warning(
        self, site: PluginSite
    ) -> None:
        """Two distributions declaring one entry-point name: one is loaded, and the other is
        named in a warning rather than silently ignored."""
        site.install("good", GOOD_PLUGIN)
        site.install("good", GOOD_PLUGIN)
        found = discover(disabled=NO_INSTALLED)
        assert found.ids == ["good"]
        issue = issue_of(found, "good")
        assert issue.severity == "warning"
        assert "is also declared by distribution throwaway-good-" in issue.message

    def test_installed_plugin_registers_through_its_entry_point(self, site: PluginSite) -> None:
        """A well-formed throwaway plugin is found, attributed to it, with its distribution
        and no issue."""
        origin = site.install("good", GOOD_PLUGIN)
        found = discover(disabled=NO_INSTALLED)
        assert found.get("good").plugin == "good"
        assert found.distribution_of("good") == Distribution(origin, "0.1")
        assert found.issues == []

    def test_hook_wrappers_see_every_plugins_registration(self) -> None:
        """Registration goes through pluggy's call loop: a wrapper runs around each plugin's
        call and sees what it added, and a wrapper-only plugin is not warned about."""
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
        assert found.issues == []


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
