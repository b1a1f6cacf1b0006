"""Backend discovery: pluggy plugins found through the `turnout` entry-point group.

Discovery runs once per process (`default_registry()`); executions only look a class up.
`TURNOUT_DISABLED_PLUGINS` (comma-separated entry-point names, e.g. `local-subprocess`)
blocks plugins before they are imported, which is how an operator removes a backend
without uninstalling it. Constructing a backend is separate from registering it: a
deprecated backend is always listed, and refuses to construct where the flags forbid it.

Plugins fail soft but loudly: each is loaded, checked and asked for its backends on its own
(`turnout.plugin_loading`), so a broken one (a module that does not import, a misspelt
hook, a hook that raises, a class without `id`) is left out and recorded in `issues`,
while every other plugin works. Two plugins registering one id make that id unavailable
(which of them would win is an accident of install order). Looking up a backend a broken
plugin registered, or may have registered, is a `ConfigurationError` naming the plugin,
its distribution and its error; `turnout backends` lists them all.

A plugin may register a `LazyBackend` (the class named by its import path) instead of the
class: discovery then imports only the plugin's hook module, the class's module is imported
when that backend is first built, and its options model when a flag file has a table for
it. A process that runs one backend so never imports the others. A lazy class whose module
does not import is an error naming the plugin wherever that backend is needed.
"""

from __future__ import annotations

import functools
import logging
import os
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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
from turnout.plugin_loading import (
    DISABLED_PLUGINS_VARIABLE,
    Distribution,
    LazyBackend,
    PluginIssue,
    PluginLoader,
    each_implementation,
    one_line,
    plugin_label,
)

__all__ = [
    "DISABLED_PLUGINS_VARIABLE",
    "BackendRegistry",
    "Distribution",
    "LazyBackend",
    "PluginIssue",
    "RegisteredBackend",
    "UnavailableBackend",
    "default_registry",
    "discover",
]

DIRECT = "<direct>"
REGISTER_HOOK = f"{hookspecs.PROJECT_NAME}_register_backends"
log = logging.getLogger("turnout.plugins")


@dataclass(frozen=True)
class RegisteredBackend:
    """A backend class (or the `LazyBackend` naming it) and the plugin that registered it."""

    entry: BackendType
    plugin: str

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def backend_type(self) -> BackendType:
        """The class; a lazily registered one is imported now. When it cannot be, the
        `LazyBackend` standing for it: it still lists the backend, and building it raises
        the error (`BackendRegistry.create` reports it)."""
        if isinstance(self.entry, LazyBackend):
            try:
                return self.entry.load()
            except ConfigurationError:
                return self.entry
        return self.entry


@dataclass(frozen=True)
class UnavailableBackend:
    """A backend class a plugin registered that cannot be used, and why (its plugin broke
    after registering it, or another plugin registered the same id)."""

    backend_type: BackendType
    plugin: str
    reason: str

    @property
    def id(self) -> str:
        return self.backend_type.id


class BackendRegistry:
    """Backend classes by id. Plugins call `add`; everything else looks up by id."""

    def __init__(self, plugin_manager: pluggy.PluginManager | None = None) -> None:
        self._backends: dict[str, RegisteredBackend] = {}
        self._unavailable: list[UnavailableBackend] = []
        self._conflicts: dict[str, dict[str, BackendType]] = {}
        self._current_plugin = DIRECT
        self.plugin_manager = plugin_manager
        self.issues: list[PluginIssue] = []
        self.distributions: dict[str, Distribution | None] = {}

    def add(self, backend_type: BackendType) -> None:
        """Register a backend class. Outside discovery, a second class with the same id is a
        configuration error; during it, the id becomes unavailable (see the module)."""
        backend_id = getattr(backend_type, "id", None)
        if not isinstance(backend_id, str) or not backend_id:
            raise ConfigurationError(
                f"cannot register {backend_type!r}: it has no string class attribute `id`"
            )
        if isinstance(backend_type, LazyBackend):
            backend_type.check_paths()
        elif (declared := getattr(backend_type, "options_model", None)) is not None and (
            options_model_of(backend_type) is None
        ):
            raise ConfigurationError(
                f"cannot register backend {backend_id!r} whose `options_model` ({declared!r}) "
                "is not a pydantic model class"
            )
        existing = self._backends.get(backend_id)
        if existing is not None and existing.entry != backend_type:
            if DIRECT in (existing.plugin, self._current_plugin) or (
                existing.plugin == self._current_plugin
            ):
                raise ConfigurationError(
                    f"backend id {backend_id!r} is registered twice: by plugin "
                    f"{existing.plugin!r} and by {self._current_plugin!r}; disable one of "
                    f"them with {DISABLED_PLUGINS_VARIABLE}"
                )
            claims = self._conflicts.setdefault(backend_id, {existing.plugin: existing.entry})
            claims[self._current_plugin] = backend_type
            return
        self._backends[backend_id] = RegisteredBackend(backend_type, self._current_plugin)

    def get(self, backend_id: str) -> RegisteredBackend:
        """The backend registered under `backend_id`, or a `ConfigurationError` saying why
        there is none: which plugin broke, or which ids are registered."""
        found = self._backends.get(backend_id)
        if found is not None:
            return found
        reason = self.unavailable_reason(backend_id)
        if reason is not None:
            raise ConfigurationError(f"backend {backend_id!r} cannot be used here: {reason}")
        known = ", ".join(sorted(self._backends)) or "none"
        raise ConfigurationError(
            f"no backend {backend_id!r} is registered (registered: {known}); install its "
            f"plugin or check {DISABLED_PLUGINS_VARIABLE}"
        )

    def create(self, backend_id: str, settings: BackendSettings) -> ExecutionBackend:
        """Construct a backend; its own checks (e.g. the legacy flag) may refuse.

        Options are checked against the class's `options_model` first, when it declares
        one, so a mistake reads the same whichever backend made it."""
        registered = self.get(backend_id)
        backend_type = registered.entry
        if isinstance(backend_type, LazyBackend):
            backend_type = self._load(registered, backend_type.load)
        model = options_model_of(backend_type)
        if model is not None:
            parse_backend_options(backend_id, model, settings.options)
        return backend_type(settings)

    @property
    def option_models(self) -> Mapping[str, type[pydantic.BaseModel]]:
        """The options model of each backend that declares one, by id (for flag loading).
        A lazily registered backend's model is imported when it is looked up."""
        return _OptionModels(self)

    def _load(self, registered: RegisteredBackend, load: Any) -> Any:
        """`load()` for a lazily registered backend; when it fails, the failure is the
        plugin's issue (recorded once) and a `ConfigurationError` naming the plugin."""
        try:
            return load()
        except ConfigurationError as exc:
            issue = PluginIssue(
                plugin=registered.plugin,
                distribution=self.distribution_of(registered.plugin),
                severity="error",
                message=f"registered a backend that cannot be loaded: {exc.message}",
                traceback="".join(traceback.format_exception(exc)),
            )
            self.report(issue)
            raise ConfigurationError(
                f"backend {registered.id!r} cannot be used here: {issue.describe()}"
            ) from exc

    @property
    def ids(self) -> list[str]:
        """The ids of the backends that can be used."""
        return sorted(self._backends)

    @property
    def unavailable(self) -> list[UnavailableBackend]:
        """Backends registered by a plugin that broke, or by more than one plugin."""
        return sorted(self._unavailable, key=lambda entry: (entry.id, entry.plugin))

    @property
    def broken_plugins(self) -> list[PluginIssue]:
        """The issues of plugins left out whole, whose backends are unknown or unavailable."""
        return [issue for issue in self.issues if issue.left_out]

    @property
    def known_ids(self) -> list[str] | None:
        """The ids a flag file may name while the process still runs the others: those
        registered, usable or not. None (ids cannot be checked) while a plugin that broke
        before registering anything may provide more."""
        if self._plugins_of_unknown_backends():
            return None
        return sorted({*self._backends, *(entry.id for entry in self._unavailable)})

    def unavailable_reason(self, backend_id: str) -> str | None:
        """Why `backend_id` cannot be used here, when a broken plugin is the reason; None when
        it is registered, or simply unknown."""
        if backend_id in self._backends:
            return None
        reasons = [entry.reason for entry in self._unavailable if entry.id == backend_id]
        if reasons:
            return "; ".join(dict.fromkeys(reasons))
        suspects = self._plugins_of_unknown_backends()
        if not suspects:
            return None
        known = ", ".join(self.ids) or "none"
        broken = "; ".join(issue.describe() for issue in suspects)
        return (
            f"no loaded plugin registers it (registered: {known}), and a plugin that may "
            f"provide it is broken: {broken}"
        )

    def distribution_of(self, plugin: str) -> Distribution | None:
        return self.distributions.get(plugin)

    def report(self, issue: PluginIssue) -> None:
        """Record an issue found after discovery (a plugin whose commands failed), once."""
        seen = {(known.plugin, known.severity, known.message) for known in self.issues}
        if (issue.plugin, issue.severity, issue.message) not in seen:
            self.issues.append(issue)

    def _plugins_of_unknown_backends(self) -> list[PluginIssue]:
        """Broken plugins of which no backend is known: they may provide any id."""
        named = {entry.plugin for entry in self._unavailable}
        return [issue for issue in self.broken_plugins if issue.plugin not in named]

    def __iter__(self) -> Iterator[RegisteredBackend]:
        return iter(self._backends[backend_id] for backend_id in self.ids)

    def declares_options(self, backend_id: str) -> bool:
        """Whether the usable backend `backend_id` declares an options model (no import)."""
        registered = self._backends.get(backend_id)
        if registered is None:
            return False
        if isinstance(registered.entry, LazyBackend):
            return registered.entry.options is not None
        return options_model_of(registered.entry) is not None

    def options_model(self, backend_id: str) -> type[pydantic.BaseModel] | None:
        """The options model of the usable backend `backend_id`, imported now for a lazy
        one; None when it declares none, or when it does not import (then the failure is
        its plugin's issue, logged: the table goes unchecked, as for any broken plugin's
        backend, and building the backend raises the error)."""
        if not self.declares_options(backend_id):
            return None
        registered = self._backends[backend_id]
        entry = registered.entry
        if not isinstance(entry, LazyBackend):
            return options_model_of(entry)
        try:
            model: type[pydantic.BaseModel] | None = self._load(
                registered, lambda: entry.options_model
            )
        except ConfigurationError as exc:
            log.warning("%s; its options are not checked", exc.message)
            return None
        return model

    def __contains__(self, backend_id: object) -> bool:
        return backend_id in self._backends

    def collect(self, loader: PluginLoader) -> None:
        """Ask every loaded plugin for its backends, one plugin at a time, remembering who
        added what. A plugin whose hook raises is left out with what it had added; an id
        claimed by several plugins is made unavailable for all of them."""
        manager = loader.manager
        for plugin, caller in each_implementation(manager, REGISTER_HOOK):
            before = dict(self._backends)
            self._current_plugin = plugin
            try:
                caller(registry=self)
            except Exception as exc:
                added = [entry.entry for entry in self._backends.values()]
                added = added[len(before) :] + self._withdraw_claims(plugin)
                self._backends = before
                issue = loader.fail(plugin, f"failed in {REGISTER_HOOK}: {one_line(exc)}", exc)
                self._unavailable += [
                    UnavailableBackend(backend_type, plugin, issue.describe())
                    for backend_type in added
                ]
            finally:
                self._current_plugin = DIRECT
        self._settle_conflicts(loader)
        registered = {entry.plugin for entry in self._backends.values()}
        registered |= {entry.plugin for entry in self._unavailable}
        for name, _plugin in manager.list_name_plugin():
            loader.warn_if_idle(name, name in registered)

    def _withdraw_claims(self, plugin: str) -> list[BackendType]:
        """Take back the ids `plugin` claimed that another plugin had already registered
        (it broke, so only the other claim stands); returns the classes it claimed them with."""
        withdrawn = []
        for backend_id, claims in list(self._conflicts.items()):
            if plugin in claims:
                withdrawn.append(claims.pop(plugin))
                if len(claims) < 2:
                    del self._conflicts[backend_id]
        return withdrawn

    def _settle_conflicts(self, loader: PluginLoader) -> None:
        """Make every id claimed by several plugins unavailable, for each of them."""
        for backend_id, claims in self._conflicts.items():
            self._backends.pop(backend_id, None)
            owners = " and ".join(
                plugin_label(plugin, loader.distributions.get(plugin)) for plugin in claims
            )
            reason = (
                f"backend id {backend_id!r} is registered by several plugins: {owners}; disable "
                f"all but one of them with {DISABLED_PLUGINS_VARIABLE}"
            )
            for plugin, backend_type in claims.items():
                self._unavailable.append(UnavailableBackend(backend_type, plugin, reason))
                others = [
                    plugin_label(other, loader.distributions.get(other))
                    for other in claims
                    if other != plugin
                ]
                does = "does" if len(others) == 1 else "do"
                loader.fail(
                    plugin,
                    f"registers backend id {backend_id!r}, as {' and '.join(others)} {does}, "
                    "so that id is unavailable",
                    left_out=False,
                )
        self._conflicts = {}


class _OptionModels(Mapping[str, type[pydantic.BaseModel]]):
    """`BackendRegistry.option_models`: the ids are known without importing anything; a
    lazily registered backend's model is imported when it is looked up."""

    def __init__(self, registry: BackendRegistry) -> None:
        self._registry = registry

    def __getitem__(self, backend_id: str) -> type[pydantic.BaseModel]:
        model = self._registry.options_model(backend_id)
        if model is None:
            raise KeyError(backend_id)
        return model

    def __contains__(self, backend_id: object) -> bool:
        return isinstance(backend_id, str) and self._registry.declares_options(backend_id)

    def __iter__(self) -> Iterator[str]:
        return iter([entry.id for entry in self._registry if self.__contains__(entry.id)])

    def __len__(self) -> int:
        return len(list(self.__iter__()))


def _disabled_from_environment() -> set[str]:
    raw = os.environ.get(DISABLED_PLUGINS_VARIABLE, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def discover(
    extra_plugins: Iterable[object] = (), disabled: Iterable[str] | None = None
) -> BackendRegistry:
    """Build a registry from installed entry points plus `extra_plugins` (tests, embedding).

    `disabled` defaults to `TURNOUT_DISABLED_PLUGINS`; blocked plugins are never imported.
    Never raises for a plugin's fault: a broken plugin is in the registry's `issues`.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for name in _disabled_from_environment() if disabled is None else set(disabled):
        manager.set_blocked(name)
    loader = PluginLoader(manager)
    loader.load_entry_points(hookspecs.PROJECT_NAME)
    for index, plugin in enumerate(extra_plugins):
        name = getattr(plugin, "__name__", f"extra-{index}")
        if not manager.is_blocked(name):
            loader.register(plugin, name)
    loader.check_hooks()
    registry = BackendRegistry(manager)
    registry.distributions, registry.issues = loader.distributions, loader.issues
    registry.collect(loader)
    return registry


@functools.cache
def default_registry() -> BackendRegistry:
    """The process-wide registry, discovered on first use and then reused."""
    return discover()
