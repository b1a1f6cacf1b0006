"""An event loop on a daemon thread, for synchronous callers that share live backends.

Backends hold resources bound to the loop that made them (subprocess transports, HTTP
connection pools, the e2b warm pool), so synchronous callers cannot each run their own
loop: they hand their coroutines to one loop that lives on its own thread. The process has
one shared such loop (`shared_loop_thread()`), used by `Client.sync` and
`execute_code_node_sync`; the conformance suite makes its own.

Objects adopted by a loop thread (`adopt`) are closed on that loop when it closes, which
the shared one does at interpreter exit: every sandbox and process is killed before the
process goes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import weakref
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

__all__ = ["LoopThread", "shared_loop_thread"]

T = TypeVar("T")
CLOSE_TIMEOUT_S = 30.0


class _Closable(Protocol):
    async def aclose(self) -> Any: ...


class LoopThread:
    """One event loop on a daemon thread, started on first use. Thread-safe."""

    def __init__(self, name: str = "turnout-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._adopted: weakref.WeakSet[_Closable] = weakref.WeakSet()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started now if it was not running yet."""
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @property
    def started(self) -> bool:
        """Whether the loop is running (something was run on it and it is not closed)."""
        loop = self._loop
        return loop is not None and not loop.is_closed()

    @property
    def in_loop_thread(self) -> bool:
        """Whether the caller is the loop's own thread (where blocking on it would hang)."""
        return self._thread is threading.current_thread()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coroutine` on the loop and block until it is done; its result or exception."""
        if self.in_loop_thread:
            coroutine.close()
            raise RuntimeError(
                "a synchronous turnout call was made from inside turnout's own event loop; "
                "await the async API there instead"
            )
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout)

    def adopt(self, closable: _Closable) -> None:
        """Close `closable` (its `aclose()`, on this loop) when the loop thread closes."""
        self._adopted.add(closable)

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Close what was adopted, then stop the loop and its thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or loop.is_closed():
            return
        adopted = list(self._adopted)

        async def close_adopted() -> None:
            for closable in adopted:
                with contextlib.suppress(Exception):
                    await closable.aclose()

        if adopted and not self.in_loop_thread:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close_adopted(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if not thread.is_alive():
                loop.close()


_shared: LoopThread | None = None
_shared_lock = threading.Lock()


def shared_loop_thread() -> LoopThread:
    """The process's shared loop thread (for `Client.sync` and `execute_code_node_sync`),
    closed at interpreter exit after closing what it adopted."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LoopThread("turnout-sync")
            atexit.register(_shared.close)
        return _shared
