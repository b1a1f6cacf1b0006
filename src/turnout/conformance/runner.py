"""Run cases against backends, concurrently, and conclude each (case, backend) pair.

One execution path: `run_node` calls `Engine.execute` on the backend under test (its
`backend` argument, a `direct` run), the method `turnout.Client` and `execute_code_node`
call, and turns the envelope or the one error into an `Observation`. `run` runs every
case on every backend, at most `concurrency` at a time per backend and never more than
the backend's own `max_concurrency` (so no execution
waits in a backend's internal queue and wall-clock bounds measure the execution itself).
Slow cases (the 30 s default-timeout ones) start first, in slots of their own, so they
overlap with everything else instead of adding to the total; cases that close a backend
run last, alone (see conformance.lifecycle). `conclude` (conformance.results) then turns
the raw results into conclusions.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from turnout.conformance.backends import DEFAULT_REFERENCE, BackendUnderTest
from turnout.conformance.case_schema import PLACEHOLDER, Step
from turnout.conformance.cases import Case
from turnout.conformance.deadline import OverdueError, bounded, deadline_ms
from turnout.conformance.expectations import Observation, check
from turnout.conformance.ledger import Ledger
from turnout.conformance.lifecycle import observe_cancelled, observe_closed
from turnout.conformance.results import UNEXPECTED, CaseResult, Status, conclude
from turnout.conformance.survivors import host_survivors, prelude
from turnout.conformance.timing import RUN_LABEL, ProvisioningClock, counted_provisioning
from turnout.engine import Engine
from turnout.errors import InfrastructureError, TurnoutError
from turnout.models import Capabilities, parse_config
from turnout.normalization import ErrorInfo

__all__ = [
    "UNEXPECTED",
    "CaseResult",
    "ConformanceRunner",
    "Progress",
    "Status",
    "conclude",
    "host_survivors",
]

Progress = Callable[[int, int, "CaseResult"], None]
INFRASTRUCTURE_RETRY_DELAY_S = 1.0
SURVIVOR_SETTLE_S = 0.5


def _substitute(code: str, marker: str, capabilities: Capabilities) -> str:
    def value(match: Any) -> str:
        name = match.group(1)
        if name == "marker":
            return marker
        return str(getattr(capabilities, name.removeprefix("cap.")))

    return PLACEHOLDER.sub(value, code)


def _prepared(
    config: Mapping[str, Any], marker: str, capabilities: Capabilities, *, marked: bool = False
) -> dict[str, Any]:
    """The config to run: placeholders substituted and, when `marked`, the survivor prelude
    put before the code (see conformance.survivors)."""
    prepared = dict(config)
    code = prepared.get("code")
    if isinstance(code, str):
        prepared["code"] = _substitute(code, marker, capabilities)
        language = prepared.get("language")
        if marked and isinstance(language, str):
            prepared["code"] = prelude(language, marker) + prepared["code"]
    return prepared


class ConformanceRunner:
    """Runs cases and nodes on the backends under test, through one engine."""

    def __init__(
        self,
        engine: Engine,
        backends: Sequence[BackendUnderTest],
        *,
        concurrency: int = 4,
        ledger: Ledger | None = None,
        reference: str = DEFAULT_REFERENCE,
    ) -> None:
        self.engine = engine
        self._clock = ProvisioningClock()
        engine.instrument(self._clock.wrap)
        self.backends = list(backends)
        self.concurrency = max(1, concurrency)
        self.ledger = ledger or Ledger()
        self.reference = reference
        self._warm: set[str] = set()
        #: Every marker this runner gave a case, so that what a broken backend left running
        #: can be found and ended afterwards (`survivors.kill_carriers`).
        self.markers: set[str] = set()

    def backend(self, backend_id: str) -> BackendUnderTest:
        for backend in self.backends:
            if backend.id == backend_id:
                return backend
        raise KeyError(backend_id)

    async def run_node(
        self,
        backend_id: str,
        config: Mapping[str, Any],
        context: Mapping[str, Any],
        *,
        labels: Mapping[str, str] | None = None,
        max_wall_ms: int | None = None,
        engine: Engine | None = None,
    ) -> Observation:
        """Execute one node as `execute_code_node` would, on `backend_id`; never raises a
        `TurnoutError` (it becomes the observation). A retryable infrastructure failure that
        happened before the code started is retried once. The call is given up (cancelled)
        after `deadline_ms(max_wall_ms, timeout)`: the observation then says it was overdue.
        `engine` replaces the runner's own (closing cases run on an engine of their own).
        """
        engine = engine or self.engine
        for attempt in (1, 2):
            run_key = uuid.uuid4().hex
            run_labels = {**(labels or {}), RUN_LABEL: run_key}
            started = time.perf_counter()
            try:
                node = parse_config(dict(config))  # for its timeout, which bounds the call
                envelope = await bounded(
                    engine.execute(node, context, backend=backend_id, labels=run_labels),
                    deadline_ms(max_wall_ms, node.timeout),
                    max_wall_ms,
                )
            except OverdueError as overdue:
                return self._failed(None, started, self._clock.take(run_key), overdue.message)
            except InfrastructureError as error:
                if attempt == 1 and error.retryable and not error.started:
                    self._clock.take(run_key)
                    await asyncio.sleep(INFRASTRUCTURE_RETRY_DELAY_S)
                    continue
                return self._failed(error, started, self._clock.take(run_key))
            except TurnoutError as error:
                return self._failed(error, started, self._clock.take(run_key))
            reported = self._clock.take(run_key)
            counted = counted_provisioning(reported)
            wall_ms = (time.perf_counter() - started) * 1000 - counted
            return Observation.from_return(envelope.to_dict(), wall_ms, counted, reported)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _failed(
        error: TurnoutError | None, started: float, reported: float, overdue: str | None = None
    ) -> Observation:
        counted = counted_provisioning(reported)
        return Observation(
            envelope=None,
            error=None if error is None else ErrorInfo.from_exception(error),
            wall_ms=(time.perf_counter() - started) * 1000 - counted,
            provisioning_ms=counted,
            provisioning_reported_ms=reported,
            overdue=overdue,
        )

    async def run_case(self, case: Case, backend: BackendUnderTest) -> CaseResult:
        """Run one case on one backend and check its expectations (no ledger, no differential)."""

        def result(status: Status, reason: str = "", **details: Any) -> CaseResult:
            return CaseResult(case.id, case.theme, backend.id, status, reason, **details)

        if backend.capabilities is None:
            return result("error", f"backend unavailable: {backend.unavailable}")
        capabilities = backend.capabilities
        unmet = case.unmet(capabilities)
        if unmet is not None:
            return result("skip", unmet)
        marker = f"turnout-conformance-{uuid.uuid4().hex[:16]}"
        self.markers.add(marker)
        labels = {"suite": "conformance"}
        try:
            context = case.build_context()
            config = _prepared(case.config, marker, capabilities, marked=case.expect.no_survivors)
            observation, problems = await self._observe(case, backend, config, context, labels)
            problems += check(case.expect, observation, context=context, capabilities=capabilities)
            if case.expect.no_survivors and capabilities.isolation == "process":
                problems.extend(await self._survivors(marker))
            if case.then is not None:
                problems.extend(await self._then(case.then, backend, marker, labels))
        except Exception as error:  # a bug in a backend or in the suite: report, never hang
            return result("error", f"{type(error).__name__}: {error}")
        return result(
            "fail" if problems else "pass",
            problems[0] if problems else "",
            problems=tuple(problems),
            wall_ms=observation.wall_ms,
            observation=observation,
        )

    async def _observe(
        self,
        case: Case,
        backend: BackendUnderTest,
        config: Mapping[str, Any],
        context: Mapping[str, Any],
        labels: Mapping[str, str],
    ) -> tuple[Observation, list[str]]:
        """Run the case's execution as the case says: plainly, cancelled by the caller, or
        with the backend closed under it (see conformance.lifecycle)."""
        if case.cancel_after_ms is not None:

            async def call() -> dict[str, Any]:
                envelope = await self.engine.execute(
                    config, context, backend=backend.id, labels=labels
                )
                return envelope.to_dict()

            return await observe_cancelled(call(), case.cancel_after_ms), []
        if case.close_after_ms is not None:
            return await self._closing(case, backend, config, context, labels)
        observation = await self.run_node(
            backend.id, config, context, labels=labels, max_wall_ms=case.expect.max_wall_ms
        )
        return observation, []

    async def _closing(
        self,
        case: Case,
        backend: BackendUnderTest,
        config: Mapping[str, Any],
        context: Mapping[str, Any],
        labels: Mapping[str, str],
    ) -> tuple[Observation, list[str]]:
        """The case on a fresh instance of the backend, closed while the case runs."""
        assert case.close_after_ms is not None
        assert backend.capabilities is not None
        own = self.engine
        engine = Engine(own.environment, flags=own.flags, registry=own.registry)
        engine.instrument(self._clock.wrap)
        language = str(config.get("language") or sorted(backend.capabilities.languages)[0])
        try:
            return await observe_closed(
                lambda: self.run_node(
                    backend.id,
                    config,
                    context,
                    labels=labels,
                    engine=engine,
                    max_wall_ms=case.expect.max_wall_ms,
                ),
                lambda: self.run_node(
                    backend.id, {"language": language, "code": "return 1"}, {}, engine=engine
                ),
                engine.aclose,
                case.close_after_ms,
                tree=backend.capabilities.isolation == "process",
            )
        finally:
            await engine.aclose()  # safe twice; also after a failure before the close

    async def _survivors(self, marker: str) -> list[str]:
        # Scanning /proc reads a file per process: off the event loop, so that the other
        # executions in flight (their timeouts, their streams) are not held up meanwhile.
        survivors = await asyncio.to_thread(host_survivors, marker)
        if survivors:  # a process being killed right now may need a moment to go
            await asyncio.sleep(SURVIVOR_SETTLE_S)
            survivors = await asyncio.to_thread(host_survivors, marker)
        return [f"still running after the execution ended: {line}" for line in survivors]

    async def _then(
        self, step: Step, backend: BackendUnderTest, marker: str, labels: Mapping[str, str]
    ) -> list[str]:
        assert backend.capabilities is not None
        await asyncio.sleep(step.delay_ms / 1000)
        observation = await self.run_node(
            backend.id,
            _prepared(step.config, marker, backend.capabilities),
            step.context,
            labels=labels,
            max_wall_ms=step.expect.max_wall_ms,
        )
        problems = check(
            step.expect, observation, context=step.context, capabilities=backend.capabilities
        )
        return [f"follow-up execution: {problem}" for problem in problems]

    async def warm_up(self, backends: Iterable[BackendUnderTest]) -> None:
        """One untimed execution per backend before its first case, once per runner.

        The first execution of a process pays one-time costs that are not the behaviour a
        case bounds: on e2b, starting the embedded server and importing the SDK, which holds
        the event loop for about 2 s on a loaded machine (every case in flight then loses
        that time), so without it the first cases to start (the security theme's fork bombs
        and floods) overshoot their wall-time bounds by seconds that are not theirs
        (docs/reliability.md has the figures). Its outcome is not checked: a backend that
        fails it fails its cases the same way.
        """
        cold = [
            backend
            for backend in backends
            if backend.capabilities is not None and backend.id not in self._warm
        ]
        self._warm.update(backend.id for backend in cold)
        await asyncio.gather(*(_warm_up_one(self, backend) for backend in cold))

    async def run(
        self, cases: Sequence[Case], *, progress: Progress | None = None
    ) -> list[CaseResult]:
        """Run every case on every backend, concurrently within limits, then `conclude`."""
        pairs = [(case, backend) for case in cases for backend in self.backends]
        return await self.run_pairs(pairs, progress=progress)

    async def run_pairs(
        self,
        pairs: Sequence[tuple[Case, BackendUnderTest]],
        *,
        progress: Progress | None = None,
    ) -> list[CaseResult]:
        """Run the given (case, backend) pairs concurrently within limits, then `conclude`.

        Results come back in the order of `pairs`."""
        await self.warm_up({backend.id: backend for _, backend in pairs}.values())
        total = len(pairs)
        done = 0
        n_slow = {
            backend.id: sum(1 for case, b in pairs if b.id == backend.id and case.slow)
            for _, backend in pairs
        }
        slots = {
            backend.id: _slots(self.concurrency, backend.max_concurrency, n_slow[backend.id])
            for _, backend in pairs
        }

        async def one(index: int, case: Case, backend: BackendUnderTest) -> tuple[int, CaseResult]:
            nonlocal done
            normal, slow = slots[backend.id]
            async with slow if case.slow else normal:
                outcome = await self.run_case(case, backend)
            done += 1
            if progress is not None:
                progress(done, total, outcome)
            return index, outcome

        # Slow cases are started first, so they overlap with everything else. Exclusive
        # cases (they look at this host's whole process tree, or load the whole host) run
        # after all of them, one case at a time; a case runs on every backend at once,
        # beside nothing but itself.
        shared = [index for index in range(total) if not pairs[index][0].exclusive]
        order = sorted(shared, key=lambda index: not pairs[index][0].slow)
        finished = await asyncio.gather(*(one(i, *pairs[i]) for i in order))
        exclusive: dict[str, list[int]] = {}
        for index in range(total):
            if pairs[index][0].exclusive:
                exclusive.setdefault(pairs[index][0].id, []).append(index)
        for indices in exclusive.values():
            finished += await asyncio.gather(*(one(i, *pairs[i]) for i in indices))
        raw = [result for _, result in sorted(finished, key=lambda pair: pair[0])]
        cases = list({case.id: case for case, _ in pairs}.values())
        return conclude(cases, raw, reference=self.reference, ledger=self.ledger)


async def _warm_up_one(runner: ConformanceRunner, backend: BackendUnderTest) -> None:
    assert backend.capabilities is not None
    language = sorted(backend.capabilities.languages)[0]
    await runner.run_node(
        backend.id,
        {"language": language, "code": "return 1"},
        {},
        labels={"suite": "conformance-warm-up"},
    )


def _slots(
    concurrency: int, backend_limit: int | None, n_slow: int
) -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
    """Normal and slow slots for one backend, together within the backend's own limit."""
    total = backend_limit if backend_limit is not None else concurrency + n_slow
    slow = min(n_slow, max(1, total - 1)) if n_slow else 1
    normal = max(1, min(concurrency, total - (slow if n_slow else 0)))
    return asyncio.Semaphore(normal), asyncio.Semaphore(slow)
