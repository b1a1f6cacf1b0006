"""What a test watches to see an execution start and its sandbox or process die: the
backend's own state (the local E2B server's sandbox list; the worker's child processes)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from turnout_e2b_server.testing import ServerProcess

from .support import WorkerProcess


class ExecutionProbe(Protocol):
    async def running(self) -> list[Any]:
        """What runs the execution (sandbox ids, pids), once its code has started."""
        ...

    async def gone_at(self, running: list[Any], timeout_s: float = 15.0) -> float:
        """The wall-clock time (time.time()) when none of `running` is left."""
        ...


class SandboxProbe:
    """e2b: the local server's list of live sandboxes."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server

    async def running(self) -> list[Any]:
        for _ in range(600):
            stats = await asyncio.to_thread(self.server.stats)
            if stats["live_sandboxes"] and stats["counters"].get("executions", 0) >= 1:
                await asyncio.sleep(0.3)  # let the cell get going
                return [sandbox["sandboxID"] for sandbox in stats["sandboxes"]]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no sandbox started: {stats}")

    async def gone_at(self, running: list[Any], timeout_s: float = 15.0) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stats = await asyncio.to_thread(self.server.stats)
            left = {sandbox["sandboxID"] for sandbox in stats["sandboxes"]} & set(running)
            if not left:
                return time.time()
            await asyncio.sleep(0.02)
        raise AssertionError(f"sandboxes still alive after {timeout_s} s: {sorted(left)}")


class ProcessProbe:
    """local-subprocess: the worker's child processes (no interpreter is pre-started)."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker

    async def running(self) -> list[Any]:
        for _ in range(600):
            children = self.worker.children()
            if children:
                await asyncio.sleep(0.3)
                return [child.pid for child in self.worker.children()]
            await asyncio.sleep(0.05)
        raise AssertionError("no execution process started")

    async def gone_at(self, running: list[Any], timeout_s: float = 15.0) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            left = {child.pid for child in self.worker.children()} & set(running)
            if not left:
                return time.time()
            await asyncio.sleep(0.02)
        raise AssertionError(f"processes still alive after {timeout_s} s: {sorted(left)}")
