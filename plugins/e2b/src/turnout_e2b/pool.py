"""The warm pool: sandboxes created ahead, each used for exactly one execution.

Why: creating an E2B sandbox takes about 150 ms plus round trips, on the critical path of
every execution. With `pool_size = N` (feature_flags.toml, per environment; 0, the default,
turns the pool off) the backend keeps N sandboxes created and waiting, so an execution that
finds one skips the create. What the pool guarantees:

- **One execution per sandbox.** `take` removes the sandbox from the pool for good; after
  its execution it is killed like any other. Nothing of one execution can reach another.
- **Refill in the background**, after every take, with exponential backoff (jittered,
  from `pool_refill_backoff_s` to `pool_refill_backoff_max_s`) while creates fail. An
  empty pool is a *miss*, never a wait: the execution creates its own sandbox, exactly as
  without a pool.
- **Bounded age.** A sandbox idle longer than `pool_max_age_s` is killed and replaced.
- **Nothing left behind.** `aclose` stops refilling, lets creates in flight finish and
  kills every idle sandbox. `SandboxLedger` remembers every sandbox a backend created and
  has not seen killed; an exit hook kills what remains when the process ends without
  `aclose` (or while a kill or a create was still in flight, for example because the
  event loop was torn down after a cancellation; the sandbox of an abandoned create is
  looked for by its metadata for up to `EXIT_CREATE_GRACE_S`). A process killed with
  SIGKILL runs no hook: then the sandbox's lifetime bounds the leak, and
  `turnout e2b reap` finds it.

Lifetime of a pooled sandbox: created with `pool_max_age_s` + the longest node timeout +
`lifetime_margin_s`, so it can wait its full age and still run any node; when taken, the
backend shortens it to the node's timeout + `lifetime_margin_s` (`set_timeout`, off the
critical path), so a leak after the take is bounded as without a pool.

The pool is per backend instance and starts on the first execution (never at
construction: `turnout backends` creates no sandbox). Its sandboxes are in addition to
`max_concurrency`, which bounds executions in flight: at most `max_concurrency +
pool_size` sandboxes are alive at once (plus the ones being killed).

Counts are logged: each take (`sandbox_pool_take`, debug, with `hit` and the wait), each
failed refill (`sandbox_pool_refill_failed`, warning: `turnout_e2b.events`), each replacement
(`sandbox_pool_expired`, info) and the totals at close (`sandbox_pool_closed`, info).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import random
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from turnout.errors import InfrastructureError
from turnout.logging import get_logger
from turnout_e2b.events import PoolRefillFailed

if TYPE_CHECKING:
    from e2b_code_interpreter import AsyncSandbox

__all__ = ["PoolStats", "PooledSandbox", "SandboxLedger", "SandboxPool", "kill_leftovers"]

log = get_logger("turnout.e2b")

POOL_KEY = "turnout_pool_key"
"""Metadata key carrying the idempotency key of a pooled sandbox's create call."""
EXIT_REQUEST_TIMEOUT_S = 5.0
EXIT_CLOSE_TIMEOUT_S = 15.0
EXIT_CREATE_GRACE_S = 5.0
"""How long the exit hook looks for the sandbox of a create that was abandoned mid-call."""
_ledgers: list[SandboxLedger] = []
_ledgers_lock = threading.Lock()


@dataclass(eq=False)
class PooledSandbox:
    """A created sandbox waiting in the pool; `create_started` is a perf_counter time."""

    sandbox: AsyncSandbox
    key: str
    create_started: float
    ready_at: float

    def age(self, now: float) -> float:
        return now - self.create_started


@dataclass
class PoolStats:
    """What the pool did, for the close event and tests."""

    hits: int = 0
    misses: int = 0
    created: int = 0
    create_failures: int = 0
    expired: int = 0
    drained: int = 0

    def to_log(self) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "created": self.created,
            "create_failures": self.create_failures,
            "expired": self.expired,
            "drained": self.drained,
        }


class SandboxPool:
    """Up to `size` ready sandboxes, refilled in the background (see the module docstring).

    `create(key)` makes one sandbox (tagged with `key`, no retries: the pool has its own
    backoff); `discard(pooled, reason)` gets rid of one the pool will not hand out
    (`expired` or `drained`), which the backend kills in the background.
    """

    def __init__(
        self,
        *,
        size: int,
        max_age_s: float,
        backoff_s: float,
        backoff_max_s: float,
        create: Callable[[str], Awaitable[AsyncSandbox]],
        discard: Callable[[PooledSandbox, str], None],
        environment: str = "",
    ) -> None:
        self.size = size
        self.max_age_s = max_age_s
        self._backoff_s = backoff_s
        self._backoff_max_s = max(backoff_max_s, backoff_s)
        self._create = create
        self._discard = discard
        self._environment = environment
        self._idle: deque[PooledSandbox] = deque()
        self._creating: set[asyncio.Task[None]] = set()
        self._failures = 0
        self._retry_at = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = PoolStats()

    @property
    def idle(self) -> int:
        """Sandboxes ready to be taken now."""
        return len(self._idle)

    @property
    def ready_ids(self) -> list[str]:
        """Ids of the sandboxes waiting, oldest first (for reports and tests)."""
        return [pooled.sandbox.sandbox_id for pooled in self._idle]

    @property
    def creating(self) -> int:
        """Creates in flight."""
        return len(self._creating)

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        """Begin filling (in the background, on the running loop); idempotent."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(
                self._maintain(), name="turnout-e2b-pool"
            )

    def take(self) -> PooledSandbox | None:
        """The oldest ready sandbox that is not past its age, or None (a miss). Never waits."""
        now = time.perf_counter()
        found = None
        while self._idle and found is None:
            candidate = self._idle.popleft()
            if candidate.age(now) >= self.max_age_s:
                self._expire_one(candidate, now)
            else:
                found = candidate
        if found is None:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        self._wake.set()
        return found

    async def aclose(self) -> None:
        """Stop refilling, let creates in flight finish, discard every idle sandbox."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Creates are never cancelled: an abandoned create can leave a sandbox nobody
        # knows about. Each one sees the pool closed when it lands and discards its sandbox.
        while self._creating:
            await asyncio.gather(*list(self._creating), return_exceptions=True)
        while self._idle:
            self.stats.drained += 1
            self._discard(self._idle.popleft(), "drained")
        log.info(
            "sandbox_pool_closed",
            environment=self._environment,
            size=self.size,
            **self.stats.to_log(),
        )

    # -- background -------------------------------------------------------------------------

    async def _maintain(self) -> None:
        """Replace what is too old, refill what is missing, sleep until there is work."""
        loop = asyncio.get_running_loop()
        while not self._closed:
            now = time.perf_counter()
            self._expire_old(now)
            missing = self.size - len(self._idle) - len(self._creating)
            if missing > 0 and now >= self._retry_at:
                for _ in range(missing):
                    task = loop.create_task(self._create_one())
                    self._creating.add(task)
                    task.add_done_callback(self._creating.discard)
            delay = self._next_wake(now)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    def _next_wake(self, now: float) -> float:
        """Seconds until the oldest idle sandbox expires or a refill may be retried."""
        moments = []
        if self._idle:
            oldest = min(p.create_started for p in self._idle)
            moments.append(oldest + self.max_age_s)
        if self._retry_at > now:
            moments.append(self._retry_at)
        if not moments:
            return 60.0
        return max(0.01, min(moments) - now)

    async def _create_one(self) -> None:
        key = uuid.uuid4().hex
        started = time.perf_counter()
        try:
            sandbox = await self._create(key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(exc)
            return
        self._failures, self._retry_at = 0, 0.0
        self.stats.created += 1
        pooled = PooledSandbox(sandbox, key, started, time.perf_counter())
        if self._closed:
            self.stats.drained += 1
            self._discard(pooled, "drained")
            return
        self._idle.append(pooled)
        self._wake.set()

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        self.stats.create_failures += 1
        base = min(self._backoff_max_s, self._backoff_s * 2 ** (self._failures - 1))
        delay = random.uniform(base / 2, base)
        if isinstance(exc, InfrastructureError) and exc.retry_after:
            delay = max(delay, exc.retry_after)
        self._retry_at = time.perf_counter() + delay
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        failed = PoolRefillFailed(
            environment=self._environment,
            consecutive_failures=self._failures,
            retry_in_s=round(delay, 3),
            error=message,
        )
        log.emit(failed, level=logging.WARNING)
        self._wake.set()

    def _expire_old(self, now: float) -> None:
        fresh: deque[PooledSandbox] = deque()
        while self._idle:
            pooled = self._idle.popleft()
            if pooled.age(now) >= self.max_age_s:
                self._expire_one(pooled, now)
            else:
                fresh.append(pooled)
        self._idle = fresh

    def _expire_one(self, pooled: PooledSandbox, now: float) -> None:
        self.stats.expired += 1
        log.info(
            "sandbox_pool_expired",
            environment=self._environment,
            sandbox_id=pooled.sandbox.sandbox_id,
            age_s=round(pooled.age(now), 3),
        )
        self._discard(pooled, "expired")


# -- leaks at exit ----------------------------------------------------------------------------


@dataclass(eq=False)
class SandboxLedger:
    """Sandboxes one backend created and has not seen killed, for the exit hook.

    `live` holds sandbox ids; `creating` holds create calls in flight as the metadata
    (name, value) that identifies their sandbox, so one whose create was abandoned (the
    event loop torn down mid-call) can still be found by listing. `params` are the SDK
    connection parameters, known once the backend has connected. `closer` (a weak
    reference to the backend's `aclose`, so the ledger never keeps a backend alive) and
    `loop` let the exit hook close the backend properly when its event loop still runs on
    another thread (`execute_code_node_sync`). Ledgers are kept until the process exits
    (they are small), so a backend dropped with kills still pending is still covered.
    """

    params: dict[str, Any] = field(default_factory=dict)
    live: set[str] = field(default_factory=set)
    creating: dict[str, tuple[str, str]] = field(default_factory=dict)
    closer: weakref.WeakMethod[Callable[[], Coroutine[Any, Any, None]]] | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        with _ledgers_lock:
            # Forget ledgers with nothing left whose backend is gone (a long-lived process
            # that constructs backends repeatedly must not accumulate them).
            _ledgers[:] = [
                ledger
                for ledger in _ledgers
                if not (ledger.empty and ledger.closer is not None and ledger.closer() is None)
            ]
            _ledgers.append(self)

    def begin_create(self, key: str, metadata_name: str, value: str) -> None:
        self.creating[key] = (metadata_name, value)

    def end_create(self, key: str, sandbox_id: str | None) -> None:
        """The create returned: a sandbox (now live) or a definite failure (None)."""
        self.creating.pop(key, None)
        if sandbox_id is not None:
            self.live.add(sandbox_id)

    def killed(self, sandbox_id: str) -> None:
        self.live.discard(sandbox_id)

    @property
    def empty(self) -> bool:
        return not self.live and not self.creating


def kill_leftovers() -> int:
    """Kill every sandbox a ledger still holds; return how many kills were attempted.

    Registered with atexit when this module is imported. First, a backend whose event loop
    still runs on another thread is closed there (bounded); then whatever remains is killed
    synchronously through the SDK, and abandoned creates are found by their metadata.
    Never raises: it runs while the interpreter exits.
    """
    with _ledgers_lock:
        ledgers = [ledger for ledger in _ledgers if not ledger.empty]
    attempted = 0
    for ledger in ledgers:
        with contextlib.suppress(Exception):
            _close_on_its_loop(ledger)
        if ledger.empty or not ledger.params:
            continue
        with contextlib.suppress(Exception):
            attempted += _kill_synchronously(ledger)
    return attempted


def _close_on_its_loop(ledger: SandboxLedger) -> None:
    loop = ledger.loop
    closer = ledger.closer() if ledger.closer is not None else None
    if loop is None or closer is None or loop.is_closed() or not loop.is_running():
        return
    with contextlib.suppress(RuntimeError):
        if asyncio.get_running_loop() is loop:
            return
    future = asyncio.run_coroutine_threadsafe(closer(), loop)
    future.result(timeout=EXIT_CLOSE_TIMEOUT_S)


def _kill_synchronously(ledger: SandboxLedger) -> int:
    """Kill the ledger's live sandboxes, then look for the ones abandoned creates made.

    A create abandoned mid-call (its task cancelled when the event loop was torn down)
    may still land on the server after the process gave up on it: its sandbox is looked
    for by its metadata for up to `EXIT_CREATE_GRACE_S`. One that lands later still is
    bounded by its lifetime and found by `turnout e2b reap`.
    """
    from e2b import Sandbox, SandboxQuery

    params = {**ledger.params, "request_timeout": EXIT_REQUEST_TIMEOUT_S, "retries": 0}
    killed = 0

    def kill(sandbox_id: str) -> None:
        nonlocal killed
        with contextlib.suppress(Exception):
            Sandbox.kill(sandbox_id, **params)
            ledger.killed(sandbox_id)
        killed += 1

    # One after the other: at exit, executors refuse new work and new threads may be refused.
    for sandbox_id in sorted(ledger.live):
        kill(sandbox_id)
    pending = dict(ledger.creating)
    deadline = time.monotonic() + EXIT_CREATE_GRACE_S
    while pending:
        for key, (name, value) in list(pending.items()):
            with contextlib.suppress(Exception):
                paginator = Sandbox.list(query=SandboxQuery(metadata={name: value}), **params)
                found = [info.sandbox_id for info in paginator.next_items()]
                for sandbox_id in found:
                    kill(sandbox_id)
                if found:
                    del pending[key]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    ledger.creating.clear()
    with contextlib.suppress(Exception):
        log.info("sandboxes_killed_at_exit", count=killed, creates_not_found=len(pending))
    return killed


atexit.register(kill_leftovers)
