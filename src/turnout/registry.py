"""Backend discovery: pluggy plugins found through the `turnout` entry-point group.

Discovery runs once per process (`default_registry()`); executions only look a class up.
`TURNOUT_DISABLED_PLUGINS` (comma-separated entry-point names, e.g. `local-subprocess`)
blocks plugins before they are imported, which is how an operator removes a backend
without uninstalling it. Constructing a backend is separate from registering it: a
deprecated backend is always listed, and refuses to construct where the flags forbid it.

A plugin that cannot work is refused loudly, naming the plugin and the hook: a hook
turnout does not define (a misspelt `turnout_register_backend`), a `turnout_*` function
without `@hookimpl`, or an implementation pluggy refuses. Hooks are called through
pluggy's call loop, so hook wrappers and pluggy's tracing see every call.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pluggy
import pydantic

from turnout import hookspecs
from turnout.backend import (
    BackendSettings,
    BackendType,
    ExecutionBackend,
    options_model_of,
    parse_backend_options,
)
from turnout.errors import ConfigurationError
from turnout.field_errors import suggestion

__all__ = ["BackendRegistry", "RegisteredBackend", "default_registry", "discover"]

DISABLED_PLUGINS_VARIABLE = "TURNOUT_DISABLED_PLUGINS"


@dataclass(frozen=True)
class RegisteredBackend:
    """A backend class and the plugin that registered it."""

    backend_type: BackendType
    plugin: str

    @property
    def id(self) -> str:
        return self.backend_type.id


class BackendRegistry:
    """Backend classes by id. Plugins call `add`; everything else looks up by id."""

    def __init__(self, plugin_manager: pluggy.PluginManager | None = None) -> None:
        self._backends: dict[str, RegisteredBackend] = {}
        self._current_plugin = "<direct>"
        self.plugin_manager = plugin_manager

    def add(self, backend_type: BackendType) -> None:
        """Register a backend class; a second class with the same id is a configuration error."""
        backend_id = getattr(backend_type, "id", None)
        if not isinstance(backend_id, str) or not backend_id:
            raise ConfigurationError(
                f"plugin {self._current_plugin!r} registered {backend_type!r} without a "
                "string class attribute `id`"
            )
        declared = getattr(backend_type, "options_model", None)
        if declared is not None and options_model_of(backend_type) is None:
            raise ConfigurationError(
                f"plugin {self._current_plugin!r} registered backend {backend_id!r} whose "
                f"`options_model` ({declared!r}) is not a pydantic model class"
            )
        existing = self._backends.get(backend_id)
        if existing is not None and existing.backend_type is not backend_type:
            raise ConfigurationError(
                f"backend id {backend_id!r} is registered twice: by plugin "
                f"{existing.plugin!r} and by {self._current_plugin!r}; disable one of them "
                f"with {DISABLED_PLUGINS_VARIABLE}"
            )
        self._backends[backend_id] = RegisteredBackend(backend_type, self._current_plugin)

    def get(self, backend_id: str) -> RegisteredBackend:
        try:
            return self._backends[backend_id]
        except KeyError:
            known = ", ".join(sorted(self._backends)) or "none"
            raise ConfigurationError(
                f"no backend {backend_id!r} is registered (registered: {known}); install its "
                f"plugin or check {DISABLED_PLUGINS_VARIABLE}"
            ) from None

    def create(self, backend_id: str, settings: BackendSettings) -> ExecutionBackend:
        """Construct a backend; its own checks (e.g. the legacy flag) may refuse.

        Options are checked against the class's `options_model` first, when it declares
        one, so a mistake reads the same whichever backend made it."""
        backend_type = self.get(backend_id).backend_type
        model = options_model_of(backend_type)
        if model is not None:
            parse_backend_options(backend_id, model, settings.options)
        return backend_type(settings)

    @property
    def option_models(self) -> dict[str, type[pydantic.BaseModel]]:
        """The options model of each backend that declares one, by id (for flag loading)."""
        found = {entry.id: options_model_of(entry.backend_type) for entry in self}
        return {backend_id: model for backend_id, model in found.items() if model is not None}

    @property
    def ids(self) -> list[str]:
        return sorted(self._backends)

    def __iter__(self) -> Iterator[RegisteredBackend]:
        return iter(self._backends[backend_id] for backend_id in self.ids)

    def __contains__(self, backend_id: object) -> bool:
        return backend_id in self._backends

    def collect(self, manager: pluggy.PluginManager) -> None:
        """Ask every registered plugin for its backends, remembering who added what.

        Each plugin is called on its own, through pluggy's call loop on a hook caller that
        leaves the other registering plugins out, so a class is attributed to the plugin
        that added it while wrappers (`@hookimpl(wrapper=True)`) and tracing still apply.
        """
        name = "turnout_register_backends"
        registering = [
            impl
            for impl in getattr(manager.hook, name).get_hookimpls()
            if not (impl.wrapper or impl.hookwrapper)
        ]
        for impl in registering:
            others = [other.plugin for other in registering if other is not impl]
            caller = manager.subset_hook_caller(name, remove_plugins=others)
            self._current_plugin = impl.plugin_name
            try:
                caller(registry=self)
            finally:
                self._current_plugin = "<direct>"


def _disabled_from_environment() -> set[str]:
    raw = os.environ.get(DISABLED_PLUGINS_VARIABLE, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def discover(
    extra_plugins: Iterable[object] = (), disabled: Iterable[str] | None = None
) -> BackendRegistry:
    """Build a registry from installed entry points plus `extra_plugins` (tests, embedding).

    `disabled` defaults to `TURNOUT_DISABLED_PLUGINS`; blocked plugins are never imported.
    """
    manager = _PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for name in _disabled_from_environment() if disabled is None else set(disabled):
        manager.set_blocked(name)
    manager.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
    for index, plugin in enumerate(extra_plugins):
        name = getattr(plugin, "__name__", f"extra-{index}")
        if not manager.is_blocked(name):
            manager.register(plugin, name=name)
    _check_hooks(manager)
    registry = BackendRegistry(manager)
    registry.collect(manager)
    return registry


_DISABLE_HINT = f"fix it, or disable the plugin with {DISABLED_PLUGINS_VARIABLE}={{}}"


class _PluginManager(pluggy.PluginManager):
    """pluggy's manager, whose refusal of a plugin names it as an operator knows it (its
    entry-point name) in a `ConfigurationError`."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        try:
            return super().register(plugin, name)
        except pluggy.PluginValidationError as exc:
            shown = name or getattr(plugin, "__name__", repr(plugin))
            detail = " ".join(str(exc).split())
            raise ConfigurationError(
                f"plugin {shown!r} cannot be loaded: {detail}; {_DISABLE_HINT.format(shown)}"
            ) from None


def _check_hooks(manager: pluggy.PluginManager) -> None:
    """Refuse plugins whose hooks turnout would never call, naming plugin and hook.

    pluggy's `check_pending` finds implementations of hooks no specification defines; a
    `turnout_*` function without `@hookimpl` is not even seen by pluggy, so it is looked
    for here."""
    defined = sorted(
        name for name in dir(hookspecs) if name.startswith(f"{hookspecs.PROJECT_NAME}_")
    )
    problems: list[tuple[str, str]] = []
    for name, caller in vars(manager.hook).items():
        if isinstance(caller, pluggy.HookCaller) and not caller.has_spec():
            for impl in caller.get_hookimpls():
                if not impl.optionalhook:
                    hint = suggestion(name, defined)
                    problems.append(
                        (
                            impl.plugin_name,
                            f"implements hook {name!r}, which turnout does not define{hint}",
                        )
                    )
    for plugin_name, plugin in manager.list_name_plugin():
        for attribute in _unmarked_hooks(plugin):
            problems.append(
                (plugin_name, f"defines {attribute!r} without @hookimpl, so pluggy never calls it")
            )
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        if not problems:  # pluggy found something the scan above did not: say it as is
            problems.append((manager.get_name(exc.plugin) or "?", str(exc)))
    if problems:
        described = "; ".join(f"plugin {name!r} {problem}" for name, problem in problems)
        names = ",".join(dict.fromkeys(name for name, _ in problems))
        raise ConfigurationError(
            f"{described} (turnout's hooks: {', '.join(defined)}); {_DISABLE_HINT.format(names)}"
        )


def _unmarked_hooks(plugin: object) -> list[str]:
    """`turnout_*` callables of a plugin that carry no `@hookimpl` mark."""
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    found = []
    for attribute in dir(plugin):
        if not attribute.startswith(f"{hookspecs.PROJECT_NAME}_"):
            continue
        value = inspect.getattr_static(plugin, attribute, None)
        value = getattr(value, "__func__", value)  # staticmethod / classmethod
        if callable(value) and not hasattr(value, marker):
            found.append(attribute)
    return found


@functools.cache
def default_registry() -> BackendRegistry:
    """The process-wide registry, discovered on first use and then reused."""
    return discover()
