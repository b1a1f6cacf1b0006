"""Which sections `turnout bench` can run: its own, then those other plugins add.

Its own include the surfaces of turnout's plugins (`service` for turnout-serve, `temporal`
for turnout-temporal: `turnout_devtools.bench.surfaces`). Any other plugin that brings a
surface of its own measures it in the same run as the rest by implementing
`turnout_bench_sections` (the hook `turnout.hookspecs` declares): it returns
`BenchSection`s, and their bounds are judged and reported like the built-in ones. A plugin
whose hook raises, or that reuses a name already taken, is reported (`turnout backends`
lists it) and its sections are left out: one broken plugin never loses the bench.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from turnout_devtools.bench.e2b_sections import concurrency, e2b_overhead, kill_saving, pool
from turnout_devtools.bench.harness import BenchContext
from turnout_devtools.bench.local_sections import local_overhead
from turnout_devtools.bench.memory import payload, sequential
from turnout_devtools.bench.sections import SectionResult
from turnout_devtools.bench.startup import startup
from turnout_devtools.bench.surfaces import service, temporal

__all__ = ["BENCH_SECTIONS_HOOK", "SECTIONS", "BenchSection", "Section", "available_sections"]

BENCH_SECTIONS_HOOK = "turnout_bench_sections"

Section = Callable[[BenchContext], Awaitable[SectionResult]]
SECTIONS: dict[str, tuple[Section, bool]] = {
    "startup": (startup, False),  # turnout_devtools.bench.startup
    "local-python": (local_overhead("python"), False),
    "local-javascript": (local_overhead("javascript"), False),
    "sequential": (sequential, False),
    "e2b-overhead": (e2b_overhead, True),
    "kill": (kill_saving, True),
    "pool": (pool, True),
    "concurrency": (concurrency, True),
    "payload": (payload, True),
    "service": (service, True),  # turnout_devtools.bench.surfaces
    "temporal": (temporal, True),
}
"""Section name -> (function, whether it uses the local E2B-compatible server), in the order
they run: the ones without a server first (its kernels start in the background). A section
that needs the server and has none reports itself skipped."""


@dataclass(frozen=True)
class BenchSection:
    """One section a plugin adds: its name in `--only` and the report, the coroutine
    function that measures (given the run's `BenchContext`), and whether it needs the local
    E2B-compatible server (the bench starts one before the first section that does)."""

    name: str
    run: Section
    uses_server: bool = False


def available_sections() -> dict[str, tuple[Section, bool]]:
    """Section name -> (function, whether it uses the local server), in the order they
    run: the built-in sections, then each plugin's in the order pluggy calls them."""
    from turnout.plugin_loading import PluginIssue, each_implementation, one_line
    from turnout.registry import default_registry

    sections = dict(SECTIONS)
    registry = default_registry()
    manager = registry.plugin_manager
    if manager is None:
        return sections
    for plugin, caller in each_implementation(manager, BENCH_SECTIONS_HOOK):
        details: str | None = None
        try:
            contributed = [section for result in caller() for section in result]
        except Exception as exc:
            message = f"failed in {BENCH_SECTIONS_HOOK}: {one_line(exc)}"
            details = "".join(traceback.format_exception(exc))
        else:
            taken = [section.name for section in contributed if section.name in sections]
            if not taken:
                sections.update(
                    (section.name, (section.run, section.uses_server)) for section in contributed
                )
                continue
            message = f"adds bench section(s) already defined: {', '.join(taken)}"
        registry.report(
            PluginIssue(
                plugin=plugin,
                distribution=registry.distribution_of(plugin),
                severity="error",
                message=f"{message}; its bench sections are not available",
                traceback=details,
            )
        )
    return sections
