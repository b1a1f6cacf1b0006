"""How many activities one worker runs at once: what its backends can run at once.

A worker that takes more activity tasks than its backend has slots for (`max_concurrency`
of the e2b and local-subprocess backends) parks the extra ones inside its own process,
where no other worker on the task queue can take them, and where their schedule-to-start
time no longer shows that the queue needs more workers. So the worker polls for at most as
many tasks as every backend that may answer can run: the smallest `max_concurrency` among
the backends that answer some execution in this environment (the legacy backend in the
`off` and `shadow` stages, the target backend in the others, over every stage the flags can
reach: default, rollout shares and overrides).

Shadow runs and fallbacks do not count: shadows run in the background within their own
budget (and are skipped when it is spent), and a fallback happens only when the
authoritative backend could not start. The figure is taken when the worker starts; a flag
edit that changes which backends answer takes effect on the next start.
"""

from __future__ import annotations

from turnout import Engine
from turnout.flags import EnvironmentFlags

__all__ = ["answering_backends", "backend_limit", "max_concurrent_activities"]


def answering_backends(flags: EnvironmentFlags) -> list[str]:
    """The backends that are authoritative for some execution under `flags`, sorted."""
    answering = set()
    for stage in flags.reachable_stages:
        legacy_answers = stage in ("off", "shadow") and flags.legacy_allowed
        answering.add(flags.legacy_backend if legacy_answers else flags.target_backend)
    return sorted(answering)


def backend_limit(engine: Engine, backend_id: str) -> int | None:
    """The backend's own limit on executions in flight (its `max_concurrency` option, as
    the constructed backend exposes it), or None when it declares none."""
    instance = engine.backend(backend_id)
    for holder in (instance, getattr(instance, "options", None)):
        value = getattr(holder, "max_concurrency", None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def max_concurrent_activities(engine: Engine) -> int | None:
    """The smallest limit among the answering backends (constructed now, so a backend that
    cannot load fails the worker's start, not its first activity); None when none declares
    a limit (the Temporal SDK's default then applies)."""
    limits = [
        limit
        for backend_id in answering_backends(engine.environment_flags)
        if (limit := backend_limit(engine, backend_id)) is not None
    ]
    return min(limits) if limits else None
