"""Adds `turnout worker` to the CLI and the `temporal` section to `turnout bench`.

Importing this module imports neither the Temporal SDK nor `turnout.bench`: every `turnout`
command loads it, and only the worker and the bench need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from turnout.hookspecs import hookimpl

if TYPE_CHECKING:
    from turnout.bench.catalog import BenchSection
    from turnout.bench.harness import BenchContext
    from turnout.bench.sections import SectionResult

__all__ = ["turnout_add_commands", "turnout_bench_sections"]


@hookimpl
def turnout_add_commands(subparsers: Any) -> None:
    from turnout_temporal.commands import register

    register(subparsers)


@hookimpl
def turnout_bench_sections() -> list[BenchSection]:
    """`temporal`: the activity through Temporal's test server against the same call on
    `turnout.Client` (see `turnout_temporal.bench_section`); it measures e2b too on the
    bench's local server."""
    from turnout.bench.catalog import BenchSection

    return [BenchSection("temporal", temporal_section, uses_server=True)]


async def temporal_section(context: BenchContext) -> SectionResult:
    """The section, its module imported only now; skipped with the reason when the Temporal
    SDK cannot be imported."""
    try:
        from turnout_temporal.bench_section import measure
    except ImportError as exc:
        from turnout.bench.sections import SectionResult

        return SectionResult(skipped=f"the Temporal SDK cannot be imported: {exc}")
    return await measure(context)
