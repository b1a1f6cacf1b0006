from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from turnout_local_subprocess.process import KILL_GRACE_S, RunOutcome, run_program

from turnout.errors import InfrastructureError

from .support import PYTHON, alive, pids_in, record_loop_gaps


async def run_python(
    code: str,
    cwd: Path,
    *,
    timeout_s: float = 10.0,
    preexec: Callable[[], None] = lambda: None,
    wrapped: bool = False,
) -> RunOutcome:
    """Run Python code through run_program, killing only the process group."""
    started: list[int] = []

    def kill_group() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(started[0], signal.SIGKILL)

    return await run_program(
        [PYTHON, "-c", code],
        cwd=cwd,
        env={"PATH": os.environ["PATH"]},
        preexec=preexec,
        timeout_s=timeout_s,
        output_cap=1 << 20,
        on_start=started.append,
        kill_all=kill_group,
        wrapped=wrapped,
    )


class TestRunProgram:
    """Spawning, waiting and reading without ever hanging."""

    @pytest.mark.timing
    async def test_a_slow_start_does_not_stop_the_event_loop(self, tmp_path: Path):
        """While a child takes a second to start (it sleeps between fork and exec), other
        coroutines keep running: the start happens off the loop's thread."""
        gaps: list[float] = []

        ticking = asyncio.create_task(record_loop_gaps(gaps))
        try:
            outcome = await run_python("pass", tmp_path, preexec=lambda: time.sleep(1.0))
        finally:
            ticking.cancel()
        assert outcome.returncode == 0
        assert gaps
        assert max(gaps) < 0.5

    async def test_a_cancellation_during_the_start_kills_the_child(self, tmp_path: Path):
        """Cancelled while its child is still starting, a run waits for the start, kills
        the child and then re-raises the cancellation: nothing is left running."""
        started: list[int] = []

        def kill_group() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(started[0], signal.SIGKILL)

        run = asyncio.create_task(
            run_program(
                [PYTHON, "-c", "import time; time.sleep(60)"],
                cwd=tmp_path,
                env={"PATH": os.environ["PATH"]},
                preexec=lambda: time.sleep(0.5),
                timeout_s=60,
                output_cap=1 << 20,
                on_start=started.append,
                kill_all=kill_group,
            )
        )
        await asyncio.sleep(0.1)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        [pid] = started
        assert not alive(pid)

    async def test_exit_code_and_output(self, tmp_path: Path):
        """The return code and both streams are reported."""
        outcome = await run_python("import sys; print('o'); sys.exit(4)", tmp_path)
        assert (outcome.returncode, outcome.timed_out, outcome.stdout.text()) == (4, False, "o\n")

    async def test_timeout_kills_the_group(self, tmp_path: Path):
        """At the deadline the group is killed and the outcome says timed out."""
        outcome = await run_python("while True: pass", tmp_path, timeout_s=0.3)
        assert (outcome.timed_out, outcome.returncode) == (True, -signal.SIGKILL)

    @pytest.mark.timing
    async def test_timeout_with_a_pipe_holder_stays_within_the_grace(self, tmp_path: Path):
        """Reaping and draining share one grace: a process that escaped the kill and holds
        stdout delays the return past the deadline by at most KILL_GRACE_S (plus slack)."""
        code = (
            "import subprocess, time\n"
            "holder = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
            "print(holder.pid, flush=True)\n"
            "while True: time.sleep(1)"
        )
        timeout_s = 2.0  # long enough for the program to start its holder on a loaded machine
        started = time.monotonic()
        outcome = await run_python(code, tmp_path, timeout_s=timeout_s)
        elapsed = time.monotonic() - started
        (holder,) = pids_in(outcome.stdout.text())
        os.kill(holder, signal.SIGKILL)
        assert outcome.timed_out is True
        # The deadline counts from the end of the start, which a loaded machine slows.
        assert elapsed - outcome.spawn_ms / 1000 < timeout_s + KILL_GRACE_S + 0.25

    async def test_wrapper_channel(self, tmp_path: Path):
        """With a wrapper, its stderr is the report pipe and its stdin the program's stderr:
        each comes back on its own; without one, `report` is None."""
        code = "import os, sys; os.write(0, b'for the program'); sys.stderr.write('report')"
        wrote = await run_python(code, tmp_path, wrapped=True)
        silent = await run_python("pass", tmp_path, wrapped=True)
        plain = await run_python("pass", tmp_path)
        assert (wrote.report, wrote.stderr.text()) == (b"report", "for the program")
        assert (silent.report, plain.report) == (b"", None)

    @pytest.mark.timing
    async def test_escaped_pipe_holder_does_not_hang(self, tmp_path: Path):
        """A process that escaped the kill and holds stdout open only delays by the grace."""
        code = (
            "import subprocess\n"
            "holder = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
            "print(holder.pid, flush=True)"
        )
        started = time.monotonic()
        outcome = await run_python(code, tmp_path)
        (holder,) = pids_in(outcome.stdout.text())
        os.kill(holder, signal.SIGKILL)
        assert time.monotonic() - started < 5
        assert outcome.returncode == 0

    async def test_missing_executable_is_infrastructure(self, tmp_path: Path):
        """An executable that cannot be started is an InfrastructureError, not started."""
        with pytest.raises(InfrastructureError) as caught:
            await run_program(
                ["/nonexistent/interpreter"],
                cwd=tmp_path,
                env={},
                preexec=lambda: None,
                timeout_s=1.0,
                output_cap=1024,
                on_start=lambda pid: None,
                kill_all=lambda: None,
            )
        assert caught.value.started is False

    async def test_preexec_failure_is_infrastructure(self, tmp_path: Path):
        """A failure while confining the child (before exec) is an InfrastructureError."""

        def failing() -> None:
            raise OSError("cannot join cgroup")

        with pytest.raises(InfrastructureError, match="could not start"):
            await run_python("pass", tmp_path, preexec=failing)
