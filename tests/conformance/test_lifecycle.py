"""Lifecycle cases on fake backends (a caller's cancellation, aclose under an execution in
flight), and the process tree check closing cases rely on."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from turnout.conformance.lifecycle import process_snapshot, started_since
from turnout.models import ExecutionRequest, ExecutionResult

from .support import fake_backend, make_runner, one_case

pytestmark = pytest.mark.usefixtures("no_flag_file")

CANCELLED = """
[[cases]]
id = "l.cancelled"
description = "cancelled after 100 ms"
config = { language = "python", code = "x", timeout = 60000 }
cancel_after_ms = 100
expect = { max_wall_ms = 3000 }
"""

CLOSED = """
[[cases]]
id = "l.closed"
description = "closed after 100 ms"
config = { language = "python", code = "x", timeout = 60000 }
close_after_ms = 100
"""


def swallowing_backend() -> type:
    """A backend whose execution turns its cancellation into a result."""
    base = fake_backend("ref")

    class Swallowing(base):  # type: ignore[misc, valid-type]
        async def execute(self, request: ExecutionRequest) -> ExecutionResult:
            if request.labels.get("suite") == "conformance":
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(30)
            result: ExecutionResult = await super().execute(request)
            return result

    return Swallowing


class TestCancelled:
    async def test_a_call_that_raises_cancelled_error_passes(self, tmp_path: Path) -> None:
        """A backend whose execution ends with the caller's cancellation passes."""
        case = one_case(tmp_path, CANCELLED)
        [outcome] = await make_runner(fake_backend("ref", sleep_s=30)).run([case])
        assert (outcome.status, outcome.problems) == ("pass", ())
        assert outcome.observation is not None
        assert outcome.observation.cancelled

    async def test_a_call_that_ends_before_the_cancel_fails(self, tmp_path: Path) -> None:
        """A case meant to cancel a running execution fails if there was nothing to cancel."""
        case = one_case(tmp_path, CANCELLED)
        [outcome] = await make_runner(fake_backend("ref")).run([case])
        assert outcome.status == "fail"
        assert outcome.reason == "ended before it was cancelled at 100 ms: success with output 1"

    async def test_a_call_that_turns_its_cancellation_into_a_result_fails(
        self, tmp_path: Path
    ) -> None:
        """Cancellation must stay cancellation: a result instead is a failure."""
        case = one_case(tmp_path, CANCELLED)
        [outcome] = await make_runner(swallowing_backend()).run([case])
        assert outcome.status == "fail"
        assert outcome.reason.startswith("returned instead of raising CancelledError")


class TestClosed:
    async def test_a_backend_closed_under_an_execution_passes_when_the_call_ends(
        self, tmp_path: Path
    ) -> None:
        """The call in flight ends with its result after aclose: nothing to report."""
        case = one_case(tmp_path, CLOSED)
        [outcome] = await make_runner(fake_backend("ref", sleep_s=0.5)).run([case])
        assert (outcome.status, outcome.problems) == ("pass", ())

    async def test_a_failing_aclose_is_reported(self, tmp_path: Path) -> None:
        """aclose raising is a problem of the case, named."""
        base = fake_backend("ref", sleep_s=0.5)

        class FailingClose(base):  # type: ignore[misc, valid-type]
            async def aclose(self) -> None:
                raise RuntimeError("cannot close")

        case = one_case(tmp_path, CLOSED)
        [outcome] = await make_runner(FailingClose).run([case])
        assert outcome.reason == "aclose raised RuntimeError('cannot close')"

    async def test_closing_cases_run_after_every_other_case(self, tmp_path: Path) -> None:
        """A closing case looks at the whole process tree, so it runs alone, last."""
        backend = fake_backend("ref", sleep_s=0.3)
        closing = one_case(tmp_path / "a", CLOSED)
        plain = one_case(
            tmp_path / "b",
            '[[cases]]\nid = "l.plain"\ndescription = "d"\n'
            'config = { language = "python", code = "y" }\n',
        )
        await make_runner(backend).run([closing, plain])
        codes = [user_code(request) for request in backend.executions]
        assert codes.index("y") < codes.index("x")


def user_code(request: ExecutionRequest) -> str:
    """The user code a fake backend was given (from the launcher's inline payload)."""
    found = re.search(r'__turnout_run\("([A-Za-z0-9+/=]+)"', request.program)
    assert found is not None
    payload = json.loads(base64.b64decode(found.group(1)))
    return str(payload.get("code", payload.get("body")))


class TestProcessTree:
    def test_a_process_started_from_here_since_the_snapshot_is_found(self) -> None:
        """A child started after the snapshot, and its own child, are found."""
        before = process_snapshot()
        grandchild = "import time; time.sleep(30)"
        spawn = f"subprocess.Popen([sys.executable, '-c', {grandchild!r}])"
        code = f"import subprocess, sys, time\n{spawn}"
        child = subprocess.Popen([sys.executable, "-c", code + "\ntime.sleep(30)"])
        try:
            deadline = time.monotonic() + 10
            found = started_since(before)
            while len(found) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
                found = started_since(before)
            assert len(found) == 2
            assert found[0].startswith(f"pid {child.pid}: ")
        finally:
            subprocess.run(["pkill", "-KILL", "-P", str(child.pid)], check=False)
            child.kill()
            child.wait()

    def test_a_process_running_before_the_snapshot_is_not(self) -> None:
        """What already ran (and what it starts later) belongs to someone else."""
        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            before = process_snapshot()
            assert started_since(before) == []
        finally:
            helper.kill()
            helper.wait()
