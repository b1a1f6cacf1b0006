"""Starting a child off the event loop: the loop keeps running during a slow start, the
exit is heard without a thread, and a cancellation during the start kills the child."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from turnout_local_subprocess.child import Child, start_child

from .support import PYTHON, alive, record_loop_gaps

SLOW_START_S = 1.0


def slow_preexec() -> None:
    """Runs in the forked child before exec, while the starter waits for the exec."""
    time.sleep(SLOW_START_S)


async def start(
    tmp_path: Path, code: str, preexec: Callable[[], None] = lambda: None
) -> tuple[Child, bool]:
    return await start_child(
        [PYTHON, "-c", code],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        preexec=preexec,
        streams=[subprocess.DEVNULL, subprocess.DEVNULL, subprocess.DEVNULL],
    )


async def test_exit_status_is_reported_once_the_child_exits(tmp_path: Path) -> None:
    """`wait()` returns the child's exit status, which `returncode` then also holds."""
    child, cancelled = await start(tmp_path, "import sys; sys.exit(3)")
    assert (await asyncio.wait_for(child.wait(), 30), child.returncode, cancelled) == (3, 3, False)


async def test_an_unstartable_program_raises_what_popen_raises(tmp_path: Path) -> None:
    """A missing executable is the caller's OSError to classify, not a hang."""
    with pytest.raises(FileNotFoundError):
        await start_child(
            [str(tmp_path / "missing")],
            cwd=tmp_path,
            env={},
            preexec=lambda: None,
            streams=[subprocess.DEVNULL] * 3,
        )


@pytest.mark.timing
async def test_the_event_loop_runs_while_a_child_starts(tmp_path: Path) -> None:
    """A start that takes a second (the child sleeps before exec) never stops the loop for
    more than a fraction of it: other coroutines keep their timers meanwhile."""
    gaps: list[float] = []

    ticking = asyncio.create_task(record_loop_gaps(gaps))
    try:
        child, _ = await start(tmp_path, "pass", slow_preexec)
        await asyncio.wait_for(child.wait(), 30)
    finally:
        ticking.cancel()
    assert gaps
    assert max(gaps) < SLOW_START_S / 2


async def test_a_cancellation_during_the_start_returns_the_child_to_kill(
    tmp_path: Path,
) -> None:
    """Cancelled while the child was being started, the start still hands the child over
    (flagged as cancelled) so the caller can kill it: nothing is left running."""
    holder: list[tuple[Child, bool]] = []

    async def starter() -> None:
        holder.append(await start(tmp_path, "import time; time.sleep(60)", slow_preexec))

    task = asyncio.create_task(starter())
    await asyncio.sleep(SLOW_START_S / 4)
    task.cancel()
    await task  # the start finished: the cancellation is reported, not raised
    [(child, cancelled)] = holder
    assert cancelled
    assert alive(child.pid)
    os.kill(child.pid, 9)
    assert await asyncio.wait_for(child.wait(), 30) == -9
