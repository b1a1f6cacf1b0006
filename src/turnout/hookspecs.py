"""The pluggy hook through which plugins add backends.

A plugin is a module (or object) exposing `turnout_register_backends`, found through the
`turnout` entry-point group:

    # pyproject.toml of a plugin
    [project.entry-points.turnout]
    my-backend = "my_package.plugin"

    # my_package/plugin.py
    from turnout.hookspecs import hookimpl

    @hookimpl
    def turnout_register_backends(registry):
        registry.add(MyBackend)

Built-in backends register exactly the same way, so nothing is privileged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from turnout.registry import BackendRegistry

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "turnout"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def turnout_register_backends(registry: BackendRegistry) -> None:
    """Add backend classes with `registry.add(cls)`; called once per registry."""


@hookspec
def turnout_add_commands(subparsers: Any) -> None:
    """Add `turnout` subcommands: `subparsers.add_parser(...)`, with `handler` set as a default
    (a function taking the parsed arguments and returning the exit status)."""


@hookspec
def turnout_bench_sections() -> list[Any]:
    """Sections to add to `turnout bench`: `turnout_devtools.bench.catalog.BenchSection`s,
    measured in the same run as the built-in ones and judged by the bounds they return.

    Declared here, beside the other hooks, so that a plugin implementing it is accepted
    whether or not turnout-devtools (which calls it) is installed; typed `Any` because
    core imports nothing of that distribution."""
    raise NotImplementedError  # pluggy calls the plugins' implementations, never this
