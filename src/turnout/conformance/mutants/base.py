"""What every mutant is: a correct reference backend seen through a wrapper that breaks one
rule, and a registry that offers the mutants beside the real backends.

The reference is reached through the registry, by id (local-subprocess unless told
otherwise), and only through its public behaviour: `ExecutionRequest` in, `ExecutionResult`
out, `capabilities`, `aclose`, and, for the few mutants that say so, options of its table
in feature_flags.toml. A mutant never imports a backend's code, so mutants keep working
when the reference's internals change.

A mutant may leave work running on purpose (that is the rule it breaks). Whatever it
leaves is registered here, so that `reap` can end it after the suite has had its look:
the work itself is cancelled (the reference then kills what it runs) and the reference is
closed, whatever the mutant's own `aclose` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from typing import Any, ClassVar

from turnout.backend import BackendSettings, ExecutionBackend
from turnout.models import Capabilities, ExecutionRequest, ExecutionResult
from turnout.registry import BackendRegistry

__all__ = ["MutantBackend", "live_mutants", "reap_all"]

#: Every mutant instance constructed and not yet reaped.
_LIVE: weakref.WeakSet[MutantBackend] = weakref.WeakSet()
REAP_TIMEOUT_S = 10.0


class MutantBackend:
    """A reference backend with one rule broken; subclasses override the hooks they need.

    `rule` names the rule broken (as docs/conformance.md lists it), `tries_first` the cases
    expected to catch it, which the hunt runs before the rest of the suite (an order, not a
    restriction), and `shows` a text one of the catching case's problems must contain: a
    catch counts only when the suite saw the broken rule itself (a leaked variable, a
    survivor), not a side effect such as a slow machine. `reference_options` are merged
    into the reference's options.
    """

    id: ClassVar[str] = ""
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = ""
    rule: ClassVar[str] = ""
    tries_first: ClassVar[tuple[str, ...]] = ()
    shows: ClassVar[str] = ""
    reference_options: ClassVar[Mapping[str, Any]] = {}
    # Bound by `bind` to the registry and id of the reference backend.
    reference_registry: ClassVar[BackendRegistry | None] = None
    reference_id: ClassVar[str] = ""

    def __init__(self, settings: BackendSettings) -> None:
        if self.reference_registry is None:
            raise TypeError(f"{type(self).__name__} is not bound to a reference; use `bind`")
        options = {**settings.options, **self.reference_options}
        self.reference: ExecutionBackend = self.reference_registry.create(
            self.reference_id, replace(settings, options=options)
        )
        self._leftovers: set[asyncio.Future[Any]] = set()
        _LIVE.add(self)

    @classmethod
    def bind(cls, registry: BackendRegistry, reference: str) -> type[MutantBackend]:
        """A subclass of this mutant whose reference is `reference` in `registry`."""
        bound: type[MutantBackend] = type(
            cls.__name__,
            (cls,),
            {
                "reference_registry": registry,
                "reference_id": reference,
                "description": f"mutant of {reference}: breaks the rule '{cls.rule}'",
                "__doc__": cls.__doc__,
            },
        )
        return bound

    # -- the hooks a mutant overrides -----------------------------------------------------

    def declare(self, capabilities: Capabilities) -> Capabilities:
        """The capabilities this mutant claims (default: the reference's)."""
        return capabilities

    def request(self, request: ExecutionRequest) -> ExecutionRequest:
        """The request the reference is given (default: the one received)."""
        return request

    def result(self, request: ExecutionRequest, result: ExecutionResult) -> ExecutionResult:
        """The result returned to the engine (default: the reference's)."""
        return result

    # -- the protocol ---------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return self.declare(self.reference.capabilities)

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        return self.result(request, await self.reference.execute(self.request(request)))

    async def aclose(self) -> None:
        await self.reap()

    # -- leaving work behind, and ending it ------------------------------------------------

    def leave(self, work: Awaitable[Any]) -> asyncio.Future[Any]:
        """Run `work` in the background, beyond this call; `reap` ends it."""
        task = asyncio.ensure_future(work)
        self._leftovers.add(task)
        task.add_done_callback(self._leftovers.discard)
        return task

    async def reap(self) -> None:
        """End what was left running and close the reference (safe to call twice)."""
        leftovers = set(self._leftovers)
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=REAP_TIMEOUT_S)
        for task in leftovers:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: a leftover's own failure is not the point
        with contextlib.suppress(Exception):
            await self.reference.aclose()


def live_mutants() -> list[MutantBackend]:
    """The mutant instances not reaped yet."""
    return list(_LIVE)


async def reap_all() -> None:
    """Reap every live mutant: what they left running ends, their references close."""
    mutants = live_mutants()
    for mutant in mutants:
        await mutant.reap()
        _LIVE.discard(mutant)
