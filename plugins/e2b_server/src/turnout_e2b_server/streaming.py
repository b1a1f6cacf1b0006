"""The /execute response: NDJSON lines exactly as E2B's code-interpreter streams them.

Why a hand-written ASGI response rather than Starlette's StreamingResponse: the server
must react to three things while a cell runs, not only to its output.

- The client disconnects: E2B interrupts the kernel, so the next cell is not stuck behind
  an abandoned one. Starlette only notices a disconnect when a write fails (up to one
  keepalive later); here a task waits for `http.disconnect` and interrupts at once.
- The sandbox is killed mid-run (DELETE, expiry, fault): E2B's VM vanishes and the TCP
  connection drops; here the connection is closed without `end_of_execution`.
- A scripted `drop_stream` fault: the connection is cut after N lines or M milliseconds,
  and the cell is interrupted, as E2B would see a disconnect.

Framing: one JSON object per line, never a blank line. The cell's first line is
`number_of_executions` (emitted by the runner once the context is free), then its events;
`{"type": "keepalive"}` after every `keepalive_s` of silence; `end_of_execution` last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from turnout_e2b_server.errors import StreamAbortedError
from turnout_e2b_server.kernels.base import EventSink
from turnout_e2b_server.stats import Stats

__all__ = ["CellRunner", "ExecuteStream", "StreamAbortedError", "encode_line"]

log = logging.getLogger(__name__)

CellRunner = Callable[[EventSink, Callable[[], None]], Awaitable[None]]
"""Runs the cell: `(emit, mark_started)`. Calls `mark_started()` once the kernel runs it."""


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def encode_line(event: dict[str, Any]) -> bytes:
    """One NDJSON line; NaN and infinities (not JSON) become null."""
    try:
        text = json.dumps(event, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(event), allow_nan=False)
    return (text + "\n").encode()


def _timestamp() -> str:
    return datetime.now(UTC).isoformat()


class ExecuteStream(Response):
    """Streams one cell's events; see the module docstring for disconnects and faults."""

    media_type = "application/x-ndjson"

    def __init__(
        self,
        *,
        run: CellRunner,
        interrupt: Callable[[], Awaitable[None]],
        sandbox_dead: asyncio.Event,
        keepalive_s: float,
        stats: Stats,
        drop_after_events: int | None = None,
        drop_after_ms: int | None = None,
    ) -> None:
        # No super().__init__(): it would render an empty body and send Content-Length: 0.
        self.status_code = 200
        self.background = None
        self.init_headers()
        self._run = run
        self._interrupt = interrupt
        self._dead = sandbox_dead
        self._keepalive_s = keepalive_s
        self._stats = stats
        self._drop_after_events = drop_after_events
        self._drop_after_ms = drop_after_ms
        self._started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        async def emit(event: dict[str, Any]) -> None:
            if event.get("type") in ("stdout", "stderr") and "timestamp" not in event:
                event = {**event, "timestamp": _timestamp()}
            queue.put_nowait(event)

        def mark_started() -> None:
            self._started = True

        async def produce() -> None:
            try:
                await self._run(emit, mark_started)
            except Exception as exc:  # an infrastructure failure, reported in-band
                log.warning("execution failed: %s", exc)
                await emit(
                    {
                        "type": "error",
                        "name": type(exc).__name__,
                        "value": str(exc),
                        "traceback": "",
                    }
                )
            finally:
                queue.put_nowait(None)

        producer = asyncio.create_task(produce(), name="execute-cell")
        writer = asyncio.create_task(self._write(queue, send), name="execute-writer")
        disconnected = asyncio.create_task(_wait_disconnect(receive), name="execute-disconnect")
        killed = asyncio.create_task(self._dead.wait(), name="execute-sandbox-dead")
        watchers: set[asyncio.Task[Any]] = {writer, disconnected, killed}
        if self._drop_after_ms is not None:
            watchers.add(asyncio.create_task(asyncio.sleep(self._drop_after_ms / 1000)))
        try:
            done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server gave up on this request (shutdown)
            producer.cancel()
            raise
        finally:
            for task in watchers:
                task.cancel()
        finished = writer in done and not writer.cancelled() and writer.exception() is None
        if finished and writer.result() == "complete":
            await producer
            return
        if killed in done:
            await _cancel(producer)
            self._stats.bump("streams_cut_by_kill")
            raise StreamAbortedError("the sandbox was killed during the execution")
        await self._stop_cell(producer)
        if disconnected in done or (writer in done and not finished):
            return  # the client went away (or a write failed): nothing left to say
        self._stats.bump("streams_dropped")
        self._stats.bump("faults_fired")
        raise StreamAbortedError("injected fault: stream dropped")

    async def _stop_cell(self, producer: asyncio.Task[None]) -> None:
        """End a cell nobody listens to any more, as E2B does: interrupt it if it runs.

        A cell that has not started (it waits for its context) is simply dropped. One that
        runs is interrupted, and the context stays locked until the kernel reports the cell
        finished: a next cell sent while the interrupted one is still unwinding would be
        aborted by IPython (stop_on_error), so it must wait its turn.
        """
        if not self._started:  # checked synchronously: the cell cannot start meanwhile
            await _cancel(producer)
            return
        self._stats.bump("executions_interrupted")
        with contextlib.suppress(Exception):
            await asyncio.shield(self._interrupt())
        try:
            await asyncio.shield(producer)
        except asyncio.CancelledError:
            producer.cancel()
            raise

    async def _write(self, queue: asyncio.Queue[dict[str, Any] | None], send: Send) -> str:
        """Send the lines; "complete" after end_of_execution, "drop" at the fault's count.

        Whatever is already waiting goes out in one write, adjacent output of one stream
        as one message (`_coalesced`); a scripted drop counts single lines, so it sends
        one event per write.
        """
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        lines = 0
        batch = self._drop_after_events is None
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=self._keepalive_s)
            except TimeoutError:
                event = {"type": "keepalive"}
            events, finished = _coalesced(event, queue if batch else None)
            if finished:
                body = b"".join(encode_line(item) for item in events)
                body += encode_line({"type": "end_of_execution"})
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return "complete"
            body = b"".join(encode_line(item) for item in events)
            await send({"type": "http.response.body", "body": body, "more_body": True})
            lines += len(events)
            if self._drop_after_events is not None and lines >= self._drop_after_events:
                return "drop"


# The most text one coalesced output message carries.
COALESCE_LIMIT = 64 * 1024


def _coalesced(
    first: dict[str, Any] | None, queue: asyncio.Queue[dict[str, Any] | None] | None
) -> tuple[list[dict[str, Any]], bool]:
    """`first` and the events already waiting behind it, with adjacent stdout (or stderr)
    events merged into one message; and whether the cell's end was among them.

    Only events that are already queued are merged, so output is never held back: a cell
    that prints slowly streams line by line, and one that prints faster than the client
    reads gets the same text, in the same order, in fewer messages (ipykernel does the same
    for Python with its flush interval). Without it, the E2B SDK spends a fraction of a
    millisecond of the caller's CPU per message, and a loop of 100,000 `console.log` calls
    took longer than its timeout on a loaded machine.
    """
    if first is None:
        return [], True
    events = [first]
    while queue is not None and not queue.empty():
        event = queue.get_nowait()
        if event is None:
            return events, True
        last = events[-1]
        if (
            event.get("type") in ("stdout", "stderr")
            and event.get("type") == last.get("type")
            and len(last["text"]) + len(event["text"]) <= COALESCE_LIMIT
        ):
            events[-1] = {**last, "text": last["text"] + event["text"]}
        else:
            events.append(event)
    return events, False


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
