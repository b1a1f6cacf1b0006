"""Pre-started Python interpreters: one program each, the same view as a cold start, the
timeout counted from the hand-over, and nothing left behind by a close or a dead worker."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings

import psutil
from turnout_local_subprocess import LegacyBackendDeprecationWarning, LocalSubprocessBackend

from turnout.backend import BackendSettings

from .support import PYTHON, BackendFactory, exists, run

WHO_AM_I = (
    "import json, os, sys\n"
    "print(json.dumps({'argv': sys.argv, 'name': __name__, 'file': __file__,"
    " 'cwd': os.getcwd(), 'main': sys.modules['__main__'].__dict__ is globals(),"
    " 'ls': sorted(os.listdir('.')), 'control': sorted(os.listdir(os.path.dirname(__file__))),"
    " 'fds': sorted(int(fd) for fd in os.listdir('/proc/self/fd'))}))"
)


async def spare_ready(backend: LocalSubprocessBackend) -> None:
    """Wait until the backend has every spare waiting (it starts them after a Python take)."""
    for _ in range(400):
        if len(backend._spares) == backend.options.prestart_python:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("no spare was started")


def processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(text in part for part in process.info["cmdline"] or ()):
            found.append(process)
    return found


class TestSpare:
    async def test_a_spare_runs_its_program_as_a_cold_start_would(
        self, make_backend: BackendFactory
    ) -> None:
        """The program handed to a spare sees argv, __name__, __file__, cwd (and what is in
        it) and __main__ exactly as in a cold start, and inherits no descriptor of the
        hand-over."""
        backend = make_backend()
        cold = json.loads((await run(backend, "python", WHO_AM_I)).stdout)
        await spare_ready(backend)
        warm_result = await run(backend, "python", WHO_AM_I)
        warm = json.loads(warm_result.stdout)
        assert warm_result.timings_ms["spawn"] == 0.0  # it ran in the spare
        assert (warm["argv"], cold["argv"]) == ([warm["file"]], [cold["file"]])
        assert (warm["name"], warm["main"], warm["fds"]) == ("__main__", True, cold["fds"])
        assert (warm["ls"], cold["ls"]) == ([], [])
        assert warm["control"] == cold["control"]
        assert os.path.basename(warm["file"]) == os.path.basename(cold["file"])
        assert os.path.basename(warm["cwd"]) == os.path.basename(cold["cwd"])

    async def test_each_spare_serves_one_execution(self, make_backend: BackendFactory) -> None:
        """Consecutive executions never share a workspace: a spare is never reused."""
        backend = make_backend()
        seen = {json.loads((await run(backend, "python", WHO_AM_I)).stdout)["cwd"]}
        for _ in range(3):
            await spare_ready(backend)
            seen.add(json.loads((await run(backend, "python", WHO_AM_I)).stdout)["cwd"])
        assert len(seen) == 4

    async def test_the_timeout_starts_at_the_hand_over(self, make_backend: BackendFactory) -> None:
        """A spare that waited longer than the node's timeout still gives the program all of
        it: a 0.3 s program under a 1 s timeout completes after the spare idled 1.5 s."""
        backend = make_backend()
        await run(backend, "python", "pass")
        await spare_ready(backend)
        await asyncio.sleep(1.5)
        result = await run(backend, "python", "import time; time.sleep(0.3)", timeout_ms=1000)
        assert (result.termination, result.timings_ms["spawn"]) == ("exited", 0.0)

    async def test_a_timeout_in_a_spare_is_a_timeout(self, make_backend: BackendFactory) -> None:
        """A program that never ends in a spare is stopped at its timeout like any other."""
        backend = make_backend()
        await run(backend, "python", "pass")
        await spare_ready(backend)
        result = await run(backend, "python", "while True: pass", timeout_ms=500)
        assert (result.termination, result.timings_ms["spawn"]) == ("timeout", 0.0)

    async def test_close_ends_the_waiting_spare(self, make_backend: BackendFactory) -> None:
        """aclose() discards the spares: their interpreters exit, their workspaces go."""
        backend = make_backend()
        await run(backend, "python", "pass")
        await spare_ready(backend)
        workspaces = [str(spare.workspace.root) for spare in backend._spares]
        assert len(workspaces) == 2
        assert all(processes_mentioning(workspace) for workspace in workspaces)
        await backend.aclose()
        assert not any(processes_mentioning(workspace) for workspace in workspaces)
        assert not any(exists(workspace) for workspace in workspaces)

    async def test_no_spare_when_turned_off(self, make_backend: BackendFactory) -> None:
        """prestart_python = false runs every execution cold."""
        backend = make_backend(prestart_python=0)
        for _ in range(2):
            result = await run(backend, "python", "pass")
            assert result.timings_ms["spawn"] > 0.0
        await asyncio.sleep(0.2)
        assert backend._spares == []

    async def test_no_spare_where_the_engine_says_not_to_keep_warm(self) -> None:
        """A one-shot process (BackendSettings.keep_warm false, `turnout run`) starts no
        spare: nothing is prepared that would be thrown away."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LegacyBackendDeprecationWarning)
            backend = LocalSubprocessBackend(
                BackendSettings(environment="test", options={"python": PYTHON}, keep_warm=False)
            )
        try:
            await run(backend, "python", "pass")
            await asyncio.sleep(0.2)
            assert (backend._spares, backend._spare_starts) == ([], set())
        finally:
            await backend.aclose()

    def test_a_dead_worker_leaves_no_spare_running(self) -> None:
        """A worker killed outright (no aclose) takes its spare with it: the spare reads
        end-of-file on the hand-over pipe and exits, and its namespace with it."""
        script = textwrap.dedent(
            """
            import asyncio, os, sys
            sys.path.insert(0, os.getcwd())
            from tests.plugins.local_subprocess.support import build_backend, run

            async def main():
                backend = build_backend()
                await run(backend, "python", "pass")
                for _ in range(400):
                    if len(backend._spares) == 2:
                        break
                    await asyncio.sleep(0.025)
                print(" ".join(str(s.workspace.root) for s in backend._spares), flush=True)
                os.kill(os.getpid(), 9)

            asyncio.run(main())
            """
        )
        child = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        workspaces = child.stdout.strip().splitlines()[-1].split()
        assert len(workspaces) == 2, child.stderr
        deadline = time.monotonic() + 10
        while any(map(processes_mentioning, workspaces)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(processes_mentioning, workspaces))
