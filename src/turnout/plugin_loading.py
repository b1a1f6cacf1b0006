"""Loading plugins one at a time, so that a broken one is reported and the others still load.

Every plugin goes through the same steps, each guarded on its own: its entry point is
imported, pluggy registers it, its hooks are checked against turnout's (a misspelt
`turnout_register_backend`, a `turnout_*` function without `@hookimpl`, an implementation
pluggy refuses), and later each of its hooks is called by itself. A plugin that fails a
step is left out whole (unregistered, nothing of it used) and becomes a `PluginIssue`: its
name, the distribution it came from, the error on one line, and the traceback for whoever
asks (`turnout backends --verbose`). A typo in one plugin's module so costs that plugin, not
every command of every backend. A distribution whose metadata does not parse costs only
itself, and nothing at all when it declares no turnout plugin.

A plugin's backend class may itself be loaded later than the plugin: a `LazyBackend` names
it by its import path, and it is imported when the backend is first needed (see
`turnout.registry`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pluggy
import pydantic

from turnout import hookspecs
from turnout.backend import BackendSettings, BackendType, ExecutionBackend, options_model_of
from turnout.errors import ConfigurationError, TurnoutError
from turnout.field_errors import suggestion

__all__ = [
    "DISABLED_PLUGINS_VARIABLE",
    "Distribution",
    "LazyBackend",
    "PluginIssue",
    "PluginLoader",
    "each_implementation",
    "one_line",
    "plugin_label",
]

DISABLED_PLUGINS_VARIABLE = "TURNOUT_DISABLED_PLUGINS"

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Distribution:
    """The installed distribution a plugin's entry point belongs to."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


@dataclass(frozen=True)
class PluginIssue:
    """Something wrong with one plugin. `left_out`: the plugin is not used at all (an error
    in loading or registering it); otherwise it still serves what it registered well."""

    plugin: str
    distribution: Distribution | None
    severity: Severity
    message: str
    left_out: bool = False
    traceback: str | None = None

    @property
    def who(self) -> str:
        return plugin_label(self.plugin, self.distribution)

    @property
    def hint(self) -> str:
        return f"fix it, or disable the plugin with {DISABLED_PLUGINS_VARIABLE}={self.plugin}"

    def describe(self) -> str:
        """The issue as one sentence naming the plugin (and the fix, for an error)."""
        if self.severity == "warning":
            return f"{self.who} {self.message}"
        return f"{self.who} {self.message}; {self.hint}"

    def to_dict(self, *, with_traceback: bool = False) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "message": self.message,
            "left_out": self.left_out,
            "traceback": self.traceback if with_traceback else None,
        }


@dataclass(frozen=True)
class LazyBackend:
    """A backend class named by where it lives, imported only when it is first needed.

    A plugin registers one instead of the class when importing the class costs (its
    module pulls in the whole backend): `registry.add(LazyBackend("mine",
    "my_plugin.backend:MyBackend", options="my_plugin.options:MyOptions"))`. `target` is
    the class as `module:Name`; `options` the class's `options_model` as `module:Name`
    (None when it declares none), imported on its own when a flag file has a table for
    this backend. `id`, `description` and `deprecated` list the backend without importing
    it, so they must be the class's own: loading checks that they are.

    It is a backend type itself: calling it imports the class and constructs it.
    """

    id: str
    target: str
    description: str = ""
    deprecated: bool = False
    options: str | None = None

    def load(self) -> BackendType:
        """The class (imported now if it was not); a `ConfigurationError` when its module
        does not import, or the class does not match this description of it."""
        backend_type: BackendType = _import_named(self.target, f"backend {self.id!r}: its class")
        for attribute in ("id", "description", "deprecated"):
            theirs = getattr(backend_type, attribute, None)
            if theirs != getattr(self, attribute):
                raise ConfigurationError(
                    f"backend {self.id!r}: class {self.target} has {attribute} {theirs!r}, "
                    f"but its plugin registered it with {getattr(self, attribute)!r}; make "
                    "the plugin's LazyBackend say what the class says"
                )
        if options_model_of(backend_type) is not self.options_model:
            raise ConfigurationError(
                f"backend {self.id!r}: class {self.target} declares options_model "
                f"{getattr(backend_type, 'options_model', None)!r}, but its plugin registered "
                f"it with options {self.options!r}; make the two the same model"
            )
        return backend_type

    @property
    def options_model(self) -> type[pydantic.BaseModel] | None:
        """The options model (imported now if it was not), or None when there is none."""
        if self.options is None:
            return None
        model = _import_named(self.options, f"backend {self.id!r}: its options model")
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            raise ConfigurationError(
                f"backend {self.id!r}: its options model {self.options} is not a pydantic "
                "model class"
            )
        return model

    def __call__(self, settings: BackendSettings) -> ExecutionBackend:
        return self.load()(settings)

    def check_paths(self) -> None:
        """Refuse paths that are not `module:name` (at registration; nothing is imported)."""
        for field_name, path in (("target", self.target), ("options", self.options)):
            if path is None and field_name == "options":
                continue
            module_name, colon, name = (path or "").partition(":")
            if not (colon and module_name and name.isidentifier()):
                raise ConfigurationError(
                    f"cannot register backend {self.id!r}: its {field_name} {path!r} is not "
                    "`package.module:Name`"
                )


def _import_named(path: str, what: str) -> Any:
    """The object at `module:name`, or a `ConfigurationError` saying why it cannot be had."""
    module_name, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), name)
    except Exception as exc:
        raise ConfigurationError(f"{what} cannot be imported from {path}: {one_line(exc)}") from exc


def plugin_label(plugin: str, distribution: Distribution | None) -> str:
    """`plugin 'x' (distribution d 1.0)`: how every message names a plugin."""
    origin = f" (distribution {distribution})" if distribution else ""
    return f"plugin {plugin!r}{origin}"


def one_line(exc: BaseException) -> str:
    """An exception as `Class: message` on one line (a turnout error: its message)."""
    if isinstance(exc, TurnoutError):
        return exc.message
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _traceback_of(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def each_implementation(
    manager: pluggy.PluginManager, hook_name: str
) -> Iterator[tuple[str, pluggy.HookCaller]]:
    """For each plugin implementing `hook_name` (wrappers aside), its name and a caller of
    that plugin's implementation alone, through pluggy's call loop so that wrappers
    (`@hookimpl(wrapper=True)`) and tracing still see the call."""
    implementing = [
        impl
        for impl in getattr(manager.hook, hook_name).get_hookimpls()
        if not (impl.wrapper or impl.hookwrapper)
    ]
    for impl in implementing:
        others = [other.plugin for other in implementing if other is not impl]
        yield impl.plugin_name, manager.subset_hook_caller(hook_name, remove_plugins=others)


class PluginLoader:
    """Loads and checks plugins into `manager`, recording an issue for each that fails."""

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self.manager = manager
        self.issues: list[PluginIssue] = []
        self.distributions: dict[str, Distribution | None] = {}

    def fail(
        self,
        plugin: str,
        message: str,
        exc: BaseException | None = None,
        *,
        severity: Severity = "error",
        left_out: bool = True,
    ) -> PluginIssue:
        """Record an issue; a plugin left out is unregistered if pluggy holds it."""
        if left_out and self.manager.has_plugin(plugin):
            self.manager.unregister(name=plugin)
        issue = PluginIssue(
            plugin=plugin,
            distribution=self.distributions.get(plugin),
            severity=severity,
            message=message,
            left_out=left_out,
            traceback=_traceback_of(exc) if exc is not None else None,
        )
        self.issues.append(issue)
        return issue

    def load_entry_points(self, group: str) -> None:
        """Import and register every entry point of `group` that is not blocked."""
        for dist in importlib.metadata.distributions():
            entries = self._entry_points_of(dist, group)
            if not entries:
                continue
            origin = _distribution_of(dist)
            for entry in entries:
                if self.manager.is_blocked(entry.name):
                    continue
                if entry.name in self.distributions:
                    self._second_entry_point(entry.name, origin)
                    continue
                self.distributions[entry.name] = origin
                try:
                    plugin = entry.load()
                except Exception as exc:
                    where = f"entry point {entry.name} = {entry.value}"
                    self.fail(entry.name, f"cannot be imported ({where}): {one_line(exc)}", exc)
                    continue
                self.register(plugin, entry.name)

    def _entry_points_of(
        self, dist: importlib.metadata.Distribution, group: str
    ) -> list[importlib.metadata.EntryPoint]:
        """The entry points of `group` a distribution declares. Its entry_points.txt may not
        parse (a line without `=`, bytes that are not UTF-8): that is its plugin's issue when
        the file has a `group` section, and none of turnout's business otherwise."""
        try:
            return [entry for entry in dist.entry_points if entry.group == group]
        except Exception as exc:
            try:
                text = dist.read_text("entry_points.txt") or ""
            except Exception:
                return []  # not even text: whether it holds a plugin cannot be told
            if not re.search(rf"^\s*\[\s*{re.escape(group)}\s*\]", text, re.MULTILINE):
                return []
            origin = _distribution_of(dist)
            if not self.manager.is_blocked(origin.name):
                self.distributions[origin.name] = origin
                self.fail(
                    origin.name,
                    f"cannot be loaded: its entry_points.txt, which has a [{group}] section, "
                    f"does not parse ({one_line(exc)}); each entry must read `name = module`",
                    exc,
                )
            return []

    def _second_entry_point(self, name: str, origin: Distribution) -> None:
        """A second entry point with a name already loaded: the same distribution seen twice
        on sys.path is ignored; another distribution is shadowed, and said so."""
        first = self.distributions[name]
        if first is not None and first.name == origin.name:
            return
        self.fail(
            name,
            f"is also declared by distribution {origin}, which is not loaded: entry-point "
            "names must be unique; uninstall one of the two",
            severity="warning",
            left_out=False,
        )

    def register(self, plugin: object, name: str) -> None:
        """Register one plugin with pluggy; a refusal is that plugin's issue."""
        self.distributions.setdefault(name, None)
        try:
            self.manager.register(plugin, name=name)
        except Exception as exc:  # pluggy's PluginValidationError, a name taken, ...
            self.fail(name, f"cannot be registered: {one_line(exc)}", exc)

    def check_hooks(self) -> None:
        """Leave out every plugin whose hooks turnout would never call, naming the hook.

        pluggy's `check_pending` finds implementations of hooks no specification defines;
        a `turnout_*` function without `@hookimpl` is not even seen by pluggy, so it is
        looked for here."""
        defined = sorted(
            name for name in dir(hookspecs) if name.startswith(f"{hookspecs.PROJECT_NAME}_")
        )
        known = f"turnout's hooks: {', '.join(defined)}"
        problems: dict[str, list[str]] = {}
        for name, caller in list(vars(self.manager.hook).items()):
            if isinstance(caller, pluggy.HookCaller) and not caller.has_spec():
                for impl in caller.get_hookimpls():
                    if not impl.optionalhook:
                        problems.setdefault(impl.plugin_name, []).append(
                            f"implements hook {name!r}, which turnout does not define"
                            f"{suggestion(name, defined)}"
                        )
        for plugin_name, plugin in self.manager.list_name_plugin():
            for attribute in _unmarked_hooks(plugin):
                problems.setdefault(plugin_name, []).append(
                    f"defines {attribute!r} without @hookimpl, so pluggy never calls it"
                )
        for plugin_name, found in problems.items():
            self.fail(plugin_name, f"{'; '.join(found)} ({known})")
        while True:  # whatever pluggy still refuses, one plugin at a time
            try:
                self.manager.check_pending()
            except pluggy.PluginValidationError as exc:
                refused = self.manager.get_name(exc.plugin)
                if refused is None:  # pragma: no cover - pluggy names a registered plugin
                    raise
                self.fail(refused, f"is refused by pluggy: {one_line(exc)} ({known})", exc)
            else:
                return

    def warn_if_idle(self, plugin_name: str, registered_backends: bool) -> None:
        """A loaded plugin that contributes nothing is a warning naming it: most often its
        entry point names a module other than the one holding its hooks."""
        plugin = self.manager.get_plugin(plugin_name)
        if plugin is None or registered_backends:
            return
        register = f"{hookspecs.PROJECT_NAME}_register_backends"
        hooks = [
            (caller.name, impl)
            for caller in self.manager.get_hookcallers(plugin) or []
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin
        ]
        if any(name != register or impl.wrapper or impl.hookwrapper for name, impl in hooks):
            return  # it adds commands or observes registration: not idle
        message = (
            f"registered no backends: its {register} added none"
            if hooks
            else "implements no turnout hook, so it registers nothing: its entry point should "
            "name the module that holds its @hookimpl functions"
        )
        self.fail(plugin_name, message, severity="warning", left_out=False)


def _distribution_of(dist: importlib.metadata.Distribution) -> Distribution:
    """A distribution's name and version; metadata that is missing or unreadable is said so
    rather than stopping every other plugin from loading."""
    try:
        name, version = dist.name, dist.version
    except Exception:
        return Distribution("(unreadable metadata)", "?")
    return Distribution(name or "(no name)", version or "(no version)")


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
