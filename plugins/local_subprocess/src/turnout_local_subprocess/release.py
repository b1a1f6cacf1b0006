"""Giving back what an execution held: its confinement (the jail and every process left in
it) and its working directory.

An execution waits for that only up to a budget, so that a timed-out call returns on time
even when something resists the kill; the rest goes on in the background, and `aclose`
of the backend waits for it (each release is bounded by the confinement's own kill).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from turnout.logging import get_logger
from turnout.tracing import sandbox_killed
from turnout_local_subprocess.limits import Confinement
from turnout_local_subprocess.options import BACKEND_ID
from turnout_local_subprocess.workdir import Workspace

__all__ = ["Releases"]

logger = get_logger("turnout.local_subprocess")


class Releases:
    """The releases of one backend instance, and those still going on in the background."""

    def __init__(self) -> None:
        self._pending: set[asyncio.Task[None]] = set()

    async def release(
        self, execution_id: str, confinement: Confinement | None, workspace: Workspace
    ) -> None:
        """Release the jail, then remove the directory; what is left is logged."""
        if confinement is not None:
            released = await confinement.release()
            sandbox_killed(BACKEND_ID)
            if released.processes_left:
                logger.warning("processes_survived", execution_id=execution_id)
            if released.cgroup_left and confinement.jail is not None:
                logger.warning(
                    "cgroup_not_removed", execution_id=execution_id, cgroup=confinement.jail.name
                )
        if not await asyncio.to_thread(workspace.remove):
            logger.warning("workdir_not_removed", execution_id=execution_id)

    async def release_within(
        self,
        budget_s: float,
        execution_id: str,
        confinement: Confinement | None,
        workspace: Workspace,
    ) -> None:
        """`release`, waited for at most `budget_s`; the rest finishes in the background."""
        task = self.in_background(self.release(execution_id, confinement, workspace))
        await asyncio.wait({task}, timeout=budget_s)

    def in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` as a task that `wait` waits for; a failure is logged, never lost."""
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._forget)
        return task

    async def wait(self) -> None:
        """Until every release started so far has ended."""
        if self._pending:
            await asyncio.wait(set(self._pending))

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("cleanup_failed", error=repr(task.exception()))
