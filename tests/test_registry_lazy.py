"""Tests for lazily registered backends (`turnout.registry.LazyBackend`): discovery imports
only a plugin's hook module; the backend's module is imported when it is built, its options
model when it is looked up; a module that does not import is the plugin's error wherever the
backend is needed."""

from __future__ import annotations

import importlib.metadata
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pydantic
import pytest

from turnout.backend import BackendSettings
from turnout.engine import Engine
from turnout.errors import ConfigurationError
from turnout.flags import parse_flags
from turnout.registry import DISABLED_PLUGINS_VARIABLE, BackendRegistry, LazyBackend, discover

from .plugin_site import PluginSite
from .test_registry import make_backend

NO_INSTALLED = [entry.name for entry in importlib.metadata.entry_points(group="turnout")]

BACKEND_MODULE = """
from {options} import LazyOptions

class SleepyBackend:
    id = "sleepy"
    deprecated = False
    description = "imported when first built"
    options_model = LazyOptions

    def __init__(self, settings):
        self.settings = settings
"""

OPTIONS_MODULE = """
import pydantic

class LazyOptions(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    size: int = 1

class OtherOptions(LazyOptions):
    pass
"""

PLUGIN = """
from turnout.hookspecs import hookimpl
from turnout.registry import LazyBackend

@hookimpl
def turnout_register_backends(registry):
    registry.add(LazyBackend("sleepy", "{backend}:SleepyBackend",
                             description="imported when first built", options={options}))
"""


class LazySite:
    """A throwaway plugin whose backend (and options model) live in modules of their own."""

    def __init__(self, site: PluginSite) -> None:
        self.site = site
        self.options = self.module("sleepy_options", OPTIONS_MODULE)
        self.backend = self.module("sleepy_backend", BACKEND_MODULE.format(options=self.options))

    def module(self, name: str, source: str) -> str:
        """Write module `name` (unique to this site) and return its import name."""
        name = f"{name}_{id(self)}"
        (self.site.root / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        self.site.modules.append(name)
        return name

    @property
    def model(self) -> str:
        """Where the backend's options model is, as `module:Name`."""
        return f"{self.options}:LazyOptions"

    def install(self, *, backend: str | None = None, options: str | None = None) -> str:
        """Install the plugin registering `backend` (default: the working module) with the
        options model at `options` (default: the working one); returns its distribution."""
        source = PLUGIN.format(backend=backend or self.backend, options=repr(options or self.model))
        return self.site.install("sleepy", source)


@pytest.fixture
def lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LazySite]:
    """A plugin site with the lazy plugin's modules written but not imported."""
    monkeypatch.delenv(DISABLED_PLUGINS_VARIABLE, raising=False)
    site = PluginSite(tmp_path / "site", monkeypatch)
    yield LazySite(site)
    site.remove_modules()


def test_discovery_does_not_import_the_backend_module(lazy: LazySite) -> None:
    """A lazily registered backend is listed by discovery without its module imported."""
    lazy.install()
    found = discover(disabled=NO_INSTALLED)
    assert found.ids == ["sleepy"]
    assert "sleepy" in found.option_models
    assert {lazy.backend, lazy.options} & set(sys.modules) == set()


def test_create_imports_and_builds_the_class(lazy: LazySite) -> None:
    """Building the backend imports its module and constructs the class with the settings."""
    lazy.install()
    found = discover(disabled=NO_INSTALLED)
    settings = BackendSettings(options={"size": 3})
    backend = found.create("sleepy", settings)
    assert type(backend).__module__ == lazy.backend
    assert backend.settings is settings  # type: ignore[attr-defined]
    assert found.get("sleepy").backend_type is type(backend)


def test_looking_up_the_options_model_imports_only_the_options_module(lazy: LazySite) -> None:
    """The options model is imported on its own, for a flag file's table; the class is not."""
    lazy.install()
    found = discover(disabled=NO_INSTALLED)
    model = found.option_models["sleepy"]
    assert model.__module__ == lazy.options
    assert lazy.backend not in sys.modules


def test_a_backend_module_that_does_not_import_is_the_plugins_error(lazy: LazySite) -> None:
    """Building a backend whose module does not import names the plugin, its distribution
    and the error, and records it as the plugin's issue; the other backends still build."""
    broken = lazy.module("sleepy_broken", "raise RuntimeError('no such SDK')\n")
    distribution = lazy.install(backend=broken)
    found = discover(disabled=NO_INSTALLED)
    found.add(make_backend("fine"))
    with pytest.raises(ConfigurationError) as caught:
        found.create("sleepy", BackendSettings())
    message = caught.value.message
    assert f"plugin 'sleepy' (distribution {distribution} 0.1)" in message
    assert (
        f"its class cannot be imported from {broken}:SleepyBackend: RuntimeError: no such SDK"
        in message
    )
    assert DISABLED_PLUGINS_VARIABLE in message
    [issue] = found.issues
    assert (issue.plugin, issue.severity) == ("sleepy", "error")
    assert "no such SDK" in (issue.traceback or "")
    assert found.create("fine", BackendSettings()).settings is not None  # type: ignore[attr-defined]


def test_turnout_backends_lists_a_backend_whose_module_does_not_import(lazy: LazySite) -> None:
    """Describing backends lists the broken lazy backend as unavailable, with why, from its
    registration (its description), without failing the listing."""
    broken = lazy.module("sleepy_broken", "import not_a_module_anywhere\n")
    lazy.install(backend=broken)
    flags = parse_flags(
        'schema_version = 1\n[environments.test]\nlegacy_backend = "sleepy"\nstage = "off"\n',
        source="flags.toml",
    )
    engine = Engine("test", flags=flags, registry=discover(disabled=NO_INSTALLED))
    [described] = engine.describe_backends()
    assert (described.id, described.description) == ("sleepy", "imported when first built")
    assert "No module named 'not_a_module_anywhere'" in (described.unavailable_reason or "")


def test_an_options_module_that_does_not_import_leaves_the_table_unchecked(
    lazy: LazySite, caplog: pytest.LogCaptureFixture
) -> None:
    """An options model that does not import is logged as the plugin's error and its
    tables go unchecked, as a broken plugin's are; the backend's id is still known."""
    broken = lazy.module("sleepy_options_broken", "raise ImportError('half installed')\n")
    lazy.install(options=f"{broken}:LazyOptions")
    found = discover(disabled=NO_INSTALLED)
    with caplog.at_level(logging.WARNING, logger="turnout.plugins"):
        assert found.option_models.get("sleepy") is None
    assert "half installed" in caplog.text
    assert "plugin 'sleepy'" in found.issues[0].describe()
    assert found.known_ids == ["sleepy"]


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("description", "something else"), ("deprecated", True), ("id", "other")],
)
def test_a_registration_that_disagrees_with_the_class_is_refused(
    lazy: LazySite, attribute: str, value: object
) -> None:
    """Loading checks the registration says what the class says (id, description,
    deprecated), since listing backends shows the registration's words."""
    registry = BackendRegistry()
    fields = {"id": "sleepy", "description": "imported when first built", "deprecated": False}
    fields[attribute] = value
    registry.add(LazyBackend(target=f"{lazy.backend}:SleepyBackend", options=lazy.model, **fields))
    [backend_id] = registry.ids
    with pytest.raises(ConfigurationError, match=f"has {attribute} "):
        registry.create(backend_id, BackendSettings())


def test_options_that_disagree_with_the_class_are_refused(lazy: LazySite) -> None:
    """A registration naming another options model than the class declares is refused
    when the class loads."""
    registry = BackendRegistry()
    registry.add(
        LazyBackend(
            "sleepy",
            f"{lazy.backend}:SleepyBackend",
            description="imported when first built",
            options=f"{lazy.options}:OtherOptions",
        )
    )
    with pytest.raises(ConfigurationError, match="make the two the same model"):
        registry.create("sleepy", BackendSettings())


@pytest.mark.parametrize("path", ["no_colon", "module:", ":Name", "module:not an identifier"])
def test_a_path_that_is_not_module_colon_name_is_refused_at_registration(path: str) -> None:
    """`target` and `options` must read `package.module:Name`; nothing is imported."""
    with pytest.raises(ConfigurationError, match=r"is not `package\.module:Name`"):
        BackendRegistry().add(LazyBackend("x", path))
    with pytest.raises(ConfigurationError, match="its options"):
        BackendRegistry().add(LazyBackend("x", "module:Name", options=path))


def test_a_lazy_backend_and_a_class_with_one_id_conflict() -> None:
    """Registering a LazyBackend and a different class under one id directly is refused,
    as two classes are; the same LazyBackend twice is not a conflict."""
    registry = BackendRegistry()
    entry = LazyBackend("twice", "somewhere:Backend")
    registry.add(entry)
    registry.add(LazyBackend("twice", "somewhere:Backend"))
    other = type("Other", (), {"id": "twice", "deprecated": False, "description": ""})
    with pytest.raises(ConfigurationError, match="registered twice"):
        registry.add(other)


def test_option_models_of_a_class_registered_directly_are_unchanged() -> None:
    """A class registered as before still has its model in option_models."""

    class Options(pydantic.BaseModel):
        size: int = 1

    backend_type = type(
        "Direct",
        (),
        {"id": "direct", "deprecated": False, "description": "", "options_model": Options},
    )
    registry = BackendRegistry()
    registry.add(backend_type)
    assert dict(registry.option_models) == {"direct": Options}
