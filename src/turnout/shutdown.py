"""Graceful shutdown: executions in flight end as retryable errors, and nothing they started
keeps running.

A worker that stops (SIGTERM from its orchestrator, a deploy, a scale-down) must not lose
the executions it is running: each caller has to get an answer it can act on, and every
sandbox or process has to be gone before the process exits. Every `Engine.execute` runs
as a task its engine tracks (`turnout.in_flight`), and `Engine.shutdown` stops one engine;
this module stops several at once, and finds the process's default engines:

    from turnout.shutdown import install_signal_handlers, shutdown

    signals = install_signal_handlers(grace_s=5.0)   # in the worker's event loop
    ...                                              # serve executions
    await signals.finished.wait()                    # SIGTERM came and shutdown is done

    await shutdown(grace_s=5.0)                      # or call it yourself

    signal.signal(signal.SIGTERM, lambda *_: turnout.codenode.shutdown_sync(5.0))
                                                     # callers of execute_code_node_sync

`shutdown` refuses new executions on every engine at once, then shuts each down
(`Engine.shutdown`: those in flight get `grace_s` to finish, the rest are cancelled, each
backend killing its sandbox or process group, then the engine is closed, which waits for
the background sandbox kills).

What callers get:

- an execution that `shutdown` interrupted: `ExecutionInterruptedError`, an
  `InfrastructureError(retryable=True, started=True)`: run it again on another worker (the
  code may have begun, so it is not a silent fallback);
- an execution asked for after shutdown began: `InfrastructureError(retryable=True,
  started=False)`;
- an execution whose *caller's own task* was cancelled (`task.cancel()`, a `TaskGroup`
  failing, `asyncio.timeout`, `asyncio.wait_for`, `asyncio.run` interrupted): the sandbox or
  process is killed first, then the cancellation propagates as `asyncio.CancelledError`,
  never as a turnout error. A worker's `except Exception:` therefore cannot swallow it,
  `asyncio.timeout` and `wait_for` raise `TimeoutError`, and `TaskGroup` works. The caller
  asked to stop, so there is nothing to retry on its behalf.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from turnout.in_flight import DEFAULT_REASON
from turnout.logging import get_logger

if TYPE_CHECKING:
    from turnout.engine import Engine

__all__ = [
    "DEFAULT_REASON",
    "ShutdownReport",
    "ShutdownSignals",
    "install_signal_handlers",
    "set_default_engines",
    "shutdown",
]

log = get_logger("turnout.shutdown")


@dataclass(frozen=True)
class ShutdownReport:
    """What one shutdown did."""

    engines: int
    interrupted: int
    """Executions still running after the grace period, cancelled and answered."""
    duration_ms: float


async def shutdown(
    engines: Iterable[Engine] | None = None,
    *,
    grace_s: float = 0.0,
    reason: str = DEFAULT_REASON,
) -> ShutdownReport:
    """Stop every engine (default: every engine `execute_code_node` made on this loop).

    New executions are refused at once; those in flight get `grace_s` seconds to finish,
    then are cancelled and answered with `ExecutionInterruptedError` (retryable); shadow runs get
    the same grace; finally each engine is closed (its backends wait for their kills).
    """
    started = time.perf_counter()
    chosen = list(engines) if engines is not None else _loop_engines()
    for engine in chosen:
        engine.refuse(reason)  # every engine refuses before any waits
    counts = await asyncio.gather(*(engine.shutdown(grace_s, reason=reason) for engine in chosen))
    report = ShutdownReport(
        engines=len(chosen),
        interrupted=sum(counts),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    # A close with nothing to interrupt is routine (a client leaving `async with`).
    emit = log.warning if report.interrupted else log.debug
    emit(
        "shutdown_complete",
        engines=report.engines,
        interrupted=report.interrupted,
        duration_ms=report.duration_ms,
        reason=reason,
    )
    return report


def _no_default_engines(loop: asyncio.AbstractEventLoop) -> list[Engine]:
    return []


_default_engines: Callable[[asyncio.AbstractEventLoop], list[Engine]] = _no_default_engines


def set_default_engines(provider: Callable[[asyncio.AbstractEventLoop], list[Engine]]) -> None:
    """Where `shutdown()` finds the engines it stops when given none: `turnout.codenode`
    installs its default clients' engines when it is imported (before that, no default
    client exists). So this module needs nothing of the layers above it."""
    global _default_engines
    _default_engines = provider


def _loop_engines() -> list[Engine]:
    return _default_engines(asyncio.get_running_loop())


@dataclass
class ShutdownSignals:
    """Signal handlers that run `shutdown` once; `finished` is set when it is done."""

    loop: asyncio.AbstractEventLoop
    signals: tuple[signal.Signals, ...]
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    report: ShutdownReport | None = None
    task: asyncio.Task[None] | None = None

    def remove(self) -> None:
        """Uninstall the handlers (a shutdown already started goes on)."""
        for sig in self.signals:
            with contextlib.suppress(ValueError, RuntimeError):
                self.loop.remove_signal_handler(sig)


def install_signal_handlers(
    *,
    grace_s: float = 0.0,
    signals: Sequence[signal.Signals] = (signal.SIGTERM,),
    engines: Callable[[], Iterable[Engine]] | None = None,
    reason: str = DEFAULT_REASON,
) -> ShutdownSignals:
    """On the first of `signals`, run `shutdown(grace_s=...)` on the running loop.

    Call it from the worker's event loop (main thread; `loop.add_signal_handler`, Unix
    only). Later signals are ignored while shutdown runs. `engines` picks what to stop
    (default: every engine `execute_code_node` made on this loop, at signal time). The
    process does not exit by itself: await `finished`, then stop serving and return.
    """
    loop = asyncio.get_running_loop()
    handle = ShutdownSignals(loop, tuple(signals))

    async def run() -> None:
        try:
            chosen = list(engines()) if engines is not None else None
            handle.report = await shutdown(chosen, grace_s=grace_s, reason=reason)
        finally:
            handle.finished.set()

    def on_signal(received: signal.Signals) -> None:
        if handle.task is not None:
            return
        log.warning("shutdown_signal", signal=received.name, grace_s=grace_s)
        handle.task = loop.create_task(run())

    for sig in handle.signals:
        loop.add_signal_handler(sig, on_signal, sig)
    return handle
