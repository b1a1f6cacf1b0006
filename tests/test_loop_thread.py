"""Tests for turnout.loop_thread: one loop on a daemon thread for synchronous callers."""

from __future__ import annotations

import asyncio
import threading

import pytest

from turnout.loop_thread import LoopThread, shared_loop_thread


class Closable:
    def __init__(self) -> None:
        self.closed_on: str | None = None

    async def aclose(self) -> None:
        self.closed_on = threading.current_thread().name


class TestLoopThread:
    def test_coroutines_run_on_the_background_loop(self) -> None:
        """A synchronous caller gets the coroutine's result, computed on the loop thread."""
        loop = LoopThread("test-loop")

        async def where() -> str:
            return threading.current_thread().name

        try:
            assert loop.run(where()) == "test-loop"
        finally:
            loop.close()

    def test_exceptions_reach_the_caller(self) -> None:
        """The coroutine's exception is raised in the calling thread."""
        loop = LoopThread()

        async def fail() -> None:
            raise KeyError("x")

        try:
            with pytest.raises(KeyError):
                loop.run(fail())
        finally:
            loop.close()

    def test_nothing_starts_before_first_use(self) -> None:
        """Making a loop thread starts no thread."""
        loop = LoopThread()
        assert not loop.started
        loop.close()  # closing one that never ran is fine

    def test_close_closes_what_was_adopted_on_the_loop(self) -> None:
        """Adopted objects are closed on the loop's thread, then the loop stops."""
        loop, closable = LoopThread("adopting"), Closable()
        loop.run(asyncio.sleep(0))
        loop.adopt(closable)
        loop.close()
        assert closable.closed_on == "adopting"
        assert not loop.started

    def test_a_call_from_the_loop_thread_itself_is_refused(self) -> None:
        """Blocking on the loop from inside it would hang: it is a clear error instead."""
        loop = LoopThread()

        async def nested() -> None:
            loop.run(asyncio.sleep(0))

        try:
            with pytest.raises(RuntimeError, match="inside turnout's own event loop"):
                loop.run(nested())
        finally:
            loop.close()


def test_the_shared_loop_thread_is_one_per_process() -> None:
    """shared_loop_thread() always gives the same loop thread."""
    assert shared_loop_thread() is shared_loop_thread()
