"""Deliberately broken backends that prove the conformance suite catches broken backends.

Each mutant is a correct reference backend (local-subprocess, reached through the
registry) seen through a small wrapper that breaks exactly one rule of `turnout.backend`
(see `catalog`). `turnout conformance --mutants` runs the suite against every mutant and
fails unless each one is caught by a case that passes on the reference (see `hunt`).

    base.py     the wrapper every mutant is, and how what it leaves running is ended
    catalog.py  the mutants, one rule each (docs/conformance.md lists them)
    hunt.py     the suite against every mutant, until each is caught
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from turnout.conformance.backends import (
    DEFAULT_REFERENCE,
    build_engine,
    describe_backends,
)
from turnout.conformance.cases import load_cases
from turnout.conformance.mutants.base import MutantBackend, reap_all
from turnout.conformance.mutants.catalog import MUTANTS
from turnout.conformance.mutants.hunt import Catch, Hunt, MutantReport, Plan
from turnout.conformance.results import CaseResult
from turnout.conformance.runner import ConformanceRunner
from turnout.conformance.session import planted_secrets
from turnout.registry import BackendRegistry, default_registry

__all__ = [
    "MUTANTS",
    "Catch",
    "MutantBackend",
    "MutantReport",
    "mutant_registry",
    "run_mutants",
]

#: Executions in flight per mutant: every mutant hunts at once, so keep each one small.
MUTANT_CONCURRENCY = 2


def mutant_registry(base: BackendRegistry, reference: str = DEFAULT_REFERENCE) -> BackendRegistry:
    """A registry with `base`'s backends and every mutant, each bound to `reference`."""
    registry = BackendRegistry()
    for registered in base:
        registry.add(registered.backend_type)
    for mutant in MUTANTS:
        registry.add(mutant.bind(base, reference))
    return registry


async def run_mutants(
    *,
    registry: BackendRegistry | None = None,
    reference: str = DEFAULT_REFERENCE,
    only: Sequence[str] = (),
    cases_dir: Path | None = None,
    environment: str | None = None,
    flags_path: str | Path | None = None,
    concurrency: int = MUTANT_CONCURRENCY,
    on_catch: Callable[[str, CaseResult], None] | None = None,
) -> MutantReport:
    """Hunt every mutant (or those in `only`) with the suite; everything they left running
    is ended before this returns."""
    started = time.perf_counter()
    chosen = [mutant for mutant in MUTANTS if not only or mutant.id in only]
    registry = mutant_registry(registry if registry is not None else default_registry(), reference)
    ids = [reference, *(mutant.id for mutant in chosen)]
    engine = build_engine(registry, backend_ids=ids, environment=environment, flags_path=flags_path)
    backends = describe_backends(engine, ids)
    runner = ConformanceRunner(engine, backends, concurrency=concurrency, reference=reference)
    hunt = Hunt(runner, load_cases(cases_dir), on_catch=on_catch)
    plans = {mutant.id: Plan(mutant.rule, mutant.tries_first, mutant.shows) for mutant in chosen}
    try:
        with planted_secrets(backends):
            catches = await hunt.run(backends[1:], plans)
    finally:
        hunt.end_leftovers()
        await reap_all()
        await engine.aclose()
        hunt.end_leftovers()
    return MutantReport(reference, tuple(catches), time.perf_counter() - started)
