"""Throwaway plugins installed for real, for the tests of plugin discovery and the CLI.

A plugin is a module file plus a `*.dist-info` directory whose `entry_points.txt` names
it in the `turnout` group, both in a fresh directory put on sys.path: exactly what an
installer leaves behind, found by `importlib.metadata` as any installed distribution is.
`BROKEN_PLUGINS` holds one plugin for each way a plugin can break.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from turnout.registry import DISABLED_PLUGINS_VARIABLE, default_registry

__all__ = ["BROKEN_PLUGINS", "Breakage", "PluginSite", "breakage", "process_site"]


class PluginSite:
    """A directory on sys.path (for one test) into which plugins are installed."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        monkeypatch.syspath_prepend(str(root))
        self.modules: list[str] = []

    def install(self, entry_name: str, source: str, *, version: str = "0.1") -> str:
        """Install a plugin whose entry point `entry_name` names a module holding `source`;
        returns its distribution's name (`throwaway-<entry name>-<n>`)."""
        module = f"throwaway_{entry_name.replace('-', '_')}_{len(self.modules)}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = self.root / f"{module}-{version}.dist-info"
        info.mkdir()
        distribution = module.replace("_", "-")
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[turnout]\n{entry_name} = {module}\n", encoding="utf-8"
        )
        importlib.invalidate_caches()
        self.modules.append(module)
        return distribution

    def install_metadata(self, directory: str, files: dict[str, bytes]) -> None:
        """Install a `directory` (`NAME-VERSION.dist-info`) holding `files` as they are, to
        stand for a distribution whose metadata is broken."""
        info = self.root / directory
        info.mkdir()
        for name, content in files.items():
            (info / name).write_bytes(content)
        importlib.invalidate_caches()

    def remove_modules(self) -> None:
        """Forget the imported plugin modules, so no later test sees them."""
        for module in self.modules:
            sys.modules.pop(module, None)


@contextlib.contextmanager
def process_site(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """A site whose plugins the process registry (`default_registry`, what the CLI uses)
    discovers next to the real ones; rediscovered without them afterwards."""
    monkeypatch.delenv(DISABLED_PLUGINS_VARIABLE, raising=False)
    installed = PluginSite(root, monkeypatch)
    default_registry.cache_clear()
    try:
        yield installed
    finally:
        installed.remove_modules()
        default_registry.cache_clear()


@dataclass(frozen=True)
class Breakage:
    """One way a plugin can break: the plugins to install (entry name: source), the words
    the report must contain, the plugin reported, the backend made unavailable (if one is
    known) and the severity of the plugin's issue ("none": only the backend is reported)."""

    name: str
    plugins: dict[str, str]
    reason: str
    plugin: str
    backend: str | None = None
    severity: str = "error"


_GOOD_CLASS = """
class {name}:
    id = {backend_id!r}
    deprecated = False
    description = "a throwaway backend"

    def __init__(self, settings):
        self.settings = settings
"""

BROKEN_PLUGINS = [
    Breakage(
        "entry point does not import",
        {"typo": "import turnout_no_such_module_anywhere\n"},
        "No module named 'turnout_no_such_module_anywhere'",
        plugin="typo",
    ),
    Breakage(
        "class without id",
        {
            "no-id": """
            from turnout.hookspecs import hookimpl

            class Anonymous:
                description = "forgot its id"

            @hookimpl
            def turnout_register_backends(registry):
                registry.add(Anonymous)
            """
        },
        "has no string class attribute `id`",
        plugin="no-id",
    ),
    Breakage(
        "two plugins register one id",
        {
            name: "from turnout.hookspecs import hookimpl\n"
            + _GOOD_CLASS.format(name="Twin", backend_id="twin")
            + "\n@hookimpl\ndef turnout_register_backends(registry):\n    registry.add(Twin)\n"
            for name in ("twin-one", "twin-two")
        },
        "backend id 'twin'",
        plugin="twin-two",
        backend="twin",
    ),
    Breakage(
        "hook raises",
        {
            "raising": "from turnout.hookspecs import hookimpl\n"
            + _GOOD_CLASS.format(name="Half", backend_id="half")
            + "\n@hookimpl\ndef turnout_register_backends(registry):\n"
            "    registry.add(Half)\n"
            "    raise RuntimeError('plugin setup failed')\n"
        },
        "RuntimeError: plugin setup failed",
        plugin="raising",
        backend="half",
    ),
    Breakage(
        "misspelt hook",
        {
            "misspelt": """
            from turnout.hookspecs import hookimpl

            @hookimpl
            def turnout_register_backend(registry):
                raise AssertionError("never called")
            """
        },
        "implements hook 'turnout_register_backend', which turnout does not define",
        plugin="misspelt",
    ),
    Breakage(
        "registers nothing",
        {"idle": '"""A module with no hooks: the entry point names the wrong module."""\n'},
        "implements no turnout hook, so it registers nothing",
        plugin="idle",
        severity="warning",
    ),
    Breakage(
        "constructor raises",
        {
            "explosive": """
            from turnout.hookspecs import hookimpl

            class Explosive:
                id = "explosive"
                deprecated = False
                description = "its constructor has a bug"

                def __init__(self, settings):
                    raise RuntimeError("constructor exploded")

            @hookimpl
            def turnout_register_backends(registry):
                registry.add(Explosive)
            """
        },
        "RuntimeError: constructor exploded",
        plugin="explosive",
        backend="explosive",
        severity="none",
    ),
]


def breakage(name: str) -> Breakage:
    """The breakage of `BROKEN_PLUGINS` called `name`."""
    [found] = [known for known in BROKEN_PLUGINS if known.name == name]
    return found
