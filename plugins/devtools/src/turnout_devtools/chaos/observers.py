"""What a chaos run observes beside the executions themselves: when each one's sandbox was
ready and when its code started, the server's peak of live sandboxes, and the log events
that say how long each execution waited for a sandbox and how often a create was retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from turnout.backend import provisioning_ms
from turnout.log_events import CodeNodeExecuted, EventError, event_of_record
from turnout.log_output import preserved
from turnout_devtools.chaos.report import ExecutionRecord

if TYPE_CHECKING:
    from turnout_e2b.events import E2BEvent, SandboxReleased
    from turnout_e2b_server.supervisor import ServerProcess

__all__ = ["Beacon", "EventCapture", "PeakWatcher", "ReadyWatch"]

#: How often the peak watcher asks the server for its live sandboxes.
POLL_S = 0.1


class ReadyWatch:
    """When each execution's sandbox was ready: the end of the successful create call.

    For the duration of the run, `AsyncSandbox.create` of the E2B SDK is wrapped (and
    restored afterwards) to note, per `turnout_chaos` label of the sandbox's metadata, the
    moment it returned. It is how the run knows where the node's timeout starts for an
    execution whose code never reported starting (a stream cut before the kernel ran it).
    """

    def __init__(self) -> None:
        self.ready: dict[int, float] = {}

    def since(self, index: int, call_started: float) -> float | None:
        at = self.ready.get(index)
        return None if at is None else (at - call_started) * 1000

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        import inspect

        from e2b_code_interpreter import AsyncSandbox

        original = inspect.getattr_static(AsyncSandbox, "create")
        function = original.__func__
        ready = self.ready

        async def create(cls: Any, *args: Any, **kwargs: Any) -> Any:
            sandbox = await function(cls, *args, **kwargs)
            label = (kwargs.get("metadata") or {}).get("turnout_chaos")
            if isinstance(label, str) and label.isdigit():
                ready.setdefault(int(label), time.perf_counter())
            return sandbox

        AsyncSandbox.create = classmethod(create)
        try:
            yield
        finally:
            AsyncSandbox.create = original


class Beacon(asyncio.DatagramProtocol):
    """Receives each execution's "my code started" datagram (its index) on loopback."""

    def __init__(self) -> None:
        self.started: dict[int, float] = {}

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        text = data.decode("ascii", "replace")
        if text.isdigit():
            self.started.setdefault(int(text), time.perf_counter())

    def since(self, index: int, call_started: float) -> float | None:
        """Milliseconds from the call's start to its code's start (None: never heard)."""
        at = self.started.get(index)
        return None if at is None else (at - call_started) * 1000


class PeakWatcher:
    """Polls the server's live sandbox count while the run goes on."""

    def __init__(self, server: ServerProcess) -> None:
        self._server = server
        self._stopping = asyncio.Event()
        self.peak = 0

    async def watch(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(Exception):  # a missed poll only lowers the peak seen
                stats = await self._server.astats()
                self.peak = max(self.peak, int(stats["live_sandboxes"]))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), POLL_S)

    def stop(self) -> None:
        self._stopping.set()


class EventCapture(logging.Handler):
    """Keeps what the run needs from the log events, and drops every line.

    Events are parsed into their types: turnout's own (`turnout.log_events`) and the e2b
    backend's (`turnout_e2b.events`); one that does not parse is kept in `problems`.
    Counted, by type: the e2b backend's events (`count(SandboxCreateRetry)`: its record of
    create attempts). Per execution (label `chaos`): how long the backend took to get a
    sandbox. From `backend_timings_ms` (its provisioning phases) when the execution ended with a
    result or a user error; otherwise (the backend raised: a dropped stream, a killed
    sandbox) from `SandboxReleased`, whose `sandbox_seconds` run from the start of the
    successful create attempt to the end of the kill, and `kill_ms`: the call spent at most
    `sandbox_seconds - kill_ms` with its sandbox, the rest getting it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._counts: Counter[type[E2BEvent]] = Counter()
        self._timings: dict[int, float] = {}
        self.backend_timings: dict[int, dict[str, float]] = {}
        self._ids: dict[str, int] = {}
        self._held_ms: dict[str, float] = {}
        self.problems: list[str] = []
        """Events that did not parse (turnout's or the e2b backend's), each with its reason."""

    def emit(self, record: logging.LogRecord) -> None:
        # The e2b plugin is imported on use, not with this module: without it, `turnout
        # chaos` says what to install (`chaos.server`) instead of failing on an import.
        from turnout_e2b.events import SandboxReleased
        from turnout_e2b.events import event_of_record as backend_event_of

        try:
            executed = event_of_record(record)
            backend_event = backend_event_of(record) if executed is None else None
        except EventError as error:  # a malformed event: the run reports it
            self.problems.append(str(error))
            return
        if backend_event is not None:
            self._counts[type(backend_event)] += 1
            if isinstance(backend_event, SandboxReleased):
                self._released(backend_event)
            return
        if isinstance(executed, CodeNodeExecuted):
            label = executed.labels.get("chaos")
            if label is not None and label.isdigit():
                self._ids[str(executed.execution_id)] = int(label)
                timings = executed.backend_timings_ms
                if timings is not None:
                    self.backend_timings[int(label)] = {
                        key: round(float(value), 1) for key, value in timings.items()
                    }
                    self._timings[int(label)] = provisioning_ms(timings)

    def _released(self, event: SandboxReleased) -> None:
        """What the execution spent with its sandbox, at most (a pool's discard has none)."""
        if event.execution_id is not None:
            self._held_ms[event.execution_id] = event.sandbox_seconds * 1000 - event.kill_ms

    def count(self, kind: type[E2BEvent]) -> int:
        """How many events of the e2b backend of this type the run logged."""
        return self._counts[kind]

    def acquire_ms(self, record: ExecutionRecord) -> float | None:
        """How long this execution waited for its sandbox (None: not known)."""
        if record.index in self._timings:
            return self._timings[record.index]
        for execution_id, index in self._ids.items():
            if index == record.index and execution_id in self._held_ms:
                return max(0.0, record.wall_ms - self._held_ms[execution_id])
        return None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The only handler of turnout's events, at every level, while the run goes on."""
        with preserved() as logger:
            logger.handlers, logger.propagate = [self], False
            logger.setLevel(logging.DEBUG)
            yield
