"""The sections that measure a plugin's own surface: `service` (turnout-serve: executions
over HTTP, `turnout_devtools.bench.service`) and `temporal` (turnout-temporal: the
activity through Temporal, `turnout_devtools.bench.temporal`).

Both plugins are dependencies of turnout-devtools, but an environment can still lack one
(installed without dependencies, a trimmed image): the section then reports itself
skipped with the reason instead of failing the bench. Each section's module, and the
plugin's heavy libraries (FastAPI, the Temporal SDK), are imported only when it runs, so
listing the sections costs nothing.
"""

from __future__ import annotations

import importlib.util

from turnout_devtools.bench.harness import BenchContext
from turnout_devtools.bench.sections import SectionResult

__all__ = ["missing_plugin", "service", "temporal"]


def missing_plugin(package: str, distribution: str) -> SectionResult | None:
    """A skipped result naming `distribution` when `package` is not installed, else None."""
    if importlib.util.find_spec(package) is None:
        return SectionResult(skipped=f"{distribution} is not installed ({package} not found)")
    return None


async def service(context: BenchContext) -> SectionResult:
    """`service`: a real `turnout serve` against the library (see its module)."""
    skipped = missing_plugin("turnout_serve", "turnout-serve")
    if skipped is not None:
        return skipped
    from turnout_devtools.bench.service import measure

    return await measure(context)


async def temporal(context: BenchContext) -> SectionResult:
    """`temporal`: the activity through Temporal's test server against the Client (see its
    module); skipped, with the reason, when the Temporal SDK cannot be imported."""
    skipped = missing_plugin("turnout_temporal", "turnout-temporal")
    if skipped is not None:
        return skipped
    try:
        from turnout_devtools.bench.temporal import measure
    except ImportError as exc:
        return SectionResult(skipped=f"the Temporal SDK cannot be imported: {exc}")
    return await measure(context)
