"""The migration shim: run the authoritative backend, maybe a shadow, maybe fall back.

Semantics (GitHub Scientist, LaunchDarkly migration stages):

- The caller always gets the **authoritative** outcome (envelope or error), unchanged. The
  shadow (candidate) run starts at the same time, in the background, so it adds no latency;
  its result is compared when both are done and published as one `shadow_comparison` event.
- A side that could not run the code (infrastructure, configuration, a bug in turnout) is
  not compared: the verdict is `candidate_error` or `authoritative_error`, with that side's
  error type and message in the event, never a `mismatch` (see `turnout.comparison`).
- Shadow runs are bounded: at most `budget` in flight per engine. Past that, a new shadow is
  **shed** (`shadow_shed` event), never queued. Anything that goes wrong in the comparison
  itself is logged (`shadow_failed`) and never reaches the caller.
- **Fallback**: only when the decision allows it (stage `live`, `fallback_to_legacy`, legacy
  not killed) and the authoritative backend failed with a retryable infrastructure error
  *before the user's code started*. The execution then runs on the legacy backend and a
  `fallback_to_legacy` event says so. Never after the code started: user code is never run
  twice for the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from turnout.errors import InfrastructureError, InternalError, TurnoutError
from turnout.log_events import ExecutionFields, ShadowComparison, ShadowFailed, ShadowShed
from turnout.logging import get_logger

if TYPE_CHECKING:
    from turnout.comparison import Difference, Outcome
    from turnout.flags import Decision, IgnoreRule
    from turnout.flags.schema import AcceptedDivergence

__all__ = ["DEFAULT_SHADOW_BUDGET", "ShadowRunner", "may_fall_back"]

DEFAULT_SHADOW_BUDGET = 8
MAX_LOGGED_DIFFERENCES = 20
log = get_logger("turnout.migration")


def may_fall_back(decision: Decision, error: TurnoutError) -> bool:
    """Fallback rule: allowed by the decision, and the code certainly did not start."""
    return (
        decision.fallback_allowed
        and isinstance(error, InfrastructureError)
        and error.retryable
        and not error.started
    )


class ShadowRunner:
    """Runs candidate executions in the background within a budget, and compares them."""

    def __init__(self, budget: int = DEFAULT_SHADOW_BUDGET) -> None:
        self._budget = budget
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[asyncio.Task[Outcome]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def start(
        self, run: Callable[[], Awaitable[dict[str, Any]]], *, about: ExecutionFields
    ) -> asyncio.Task[Outcome] | None:
        """Start a shadow run now, or shed it (None) when the budget is used up."""
        if len(self._running) >= self._budget:
            with contextlib.suppress(Exception):
                log.emit(ShadowShed(budget=self._budget, **about), level=logging.WARNING)
            return None
        task = asyncio.get_running_loop().create_task(_outcome_of(run))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def compare_when_done(
        self,
        candidate: asyncio.Task[Outcome],
        authoritative: Outcome,
        decision: Decision,
        *,
        about: ExecutionFields,
    ) -> None:
        """Publish the comparison once the shadow run finishes; never raises."""
        task = asyncio.get_running_loop().create_task(
            self._compare(candidate, authoritative, decision, about)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _compare(
        self,
        candidate_task: asyncio.Task[Outcome],
        authoritative: Outcome,
        decision: Decision,
        about: ExecutionFields,
    ) -> None:
        from turnout.comparison import compare_outcomes  # only a shadow run compares

        try:
            candidate = await candidate_task
            rules, accepted = decision.rules_for(about["code_sha256"], about["labels"].get("node"))
            ledger = [(entry, entry.rule) for entry in accepted]
            comparison = compare_outcomes(
                authoritative,
                candidate,
                rules,
                accepted=[rule for _, rule in ledger],
                now=time.time(),
            )
            # The side that could not run, if one could not, and its error.
            side = comparison.not_run
            failed = candidate if side == "candidate" else authoritative
            error_type = error = None
            if side is not None and isinstance(failed, TurnoutError):
                error_type, error = type(failed).__name__, failed.message
            event = ShadowComparison(
                verdict=comparison.verdict,
                mismatches=[d.to_log() for d in comparison.mismatches[:MAX_LOGGED_DIFFERENCES]],
                mismatch_count=len(comparison.mismatches),
                ignored_count=len(comparison.ignored),
                accepted_count=len(comparison.accepted),
                accepted=_accepted(comparison.accepted, ledger),
                authoritative_outcome=_kind(authoritative),
                candidate_outcome=_kind(candidate),
                candidate_error_type=error_type if side == "candidate" else None,
                candidate_error=error if side == "candidate" else None,
                authoritative_error_type=error_type if side == "authoritative" else None,
                authoritative_error=error if side == "authoritative" else None,
                **about,
            )
            # A side that could not run is an operator's problem: a warning, not info.
            log.emit(event, level=logging.INFO if comparison.not_run is None else logging.WARNING)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            with contextlib.suppress(Exception):
                failure = f"{type(exc).__name__}: {exc}"
                log.emit(ShadowFailed(error=failure, **about), level=logging.ERROR)

    async def aclose(self, timeout_s: float = 30.0) -> None:
        """Let shadow runs and comparisons finish (bounded), then cancel what remains."""
        pending = [*self._running, *self._tasks]
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=timeout_s)
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)


async def _outcome_of(run: Callable[[], Awaitable[dict[str, Any]]]) -> Outcome:
    """The shadow's envelope or error; any other failure becomes an error outcome."""
    try:
        return await run()
    except TurnoutError as error:
        return error
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        internal = InternalError(f"shadow run failed: {type(exc).__name__}: {exc}")
        internal.__cause__ = exc
        return internal


def _accepted(
    differences: list[Difference], ledger: list[tuple[AcceptedDivergence, IgnoreRule]]
) -> list[dict[str, str]]:
    """Each accepted difference with the ledger entry that covers it (path, owner, reason)."""
    found = []
    for difference in differences[:MAX_LOGGED_DIFFERENCES]:
        entry = next(entry for entry, rule in ledger if rule.matches(difference.path))
        found.append(
            {
                "path": difference.to_log()["path"],
                "rule": entry.path,
                "owner": entry.owner,
                "reason": entry.reason,
            }
        )
    return found


def _kind(outcome: Outcome) -> str:
    if isinstance(outcome, TurnoutError):
        return getattr(outcome, "kind", None) or type(outcome).__name__
    return "ok"


def elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
