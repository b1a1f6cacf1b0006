"""Adds `turnout serve` to the CLI and the `service` section to `turnout bench`. Importing
this module imports neither FastAPI nor uvicorn, nor anything of the bench."""

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
    from turnout_serve.command import register

    register(subparsers)


@hookimpl
def turnout_bench_sections() -> list[BenchSection]:
    """`service`: latency, throughput and memory through HTTP against the library
    (`turnout_serve.bench`); it uses the bench's local E2B-compatible server."""
    from turnout.bench.catalog import BenchSection

    return [BenchSection("service", _measure_service, uses_server=True)]


async def _measure_service(context: BenchContext) -> SectionResult:
    from turnout_serve.bench import measure  # the service's client and the bench: only now

    return await measure(context)
