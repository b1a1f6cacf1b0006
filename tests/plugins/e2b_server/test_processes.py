"""The process bookkeeping of the supervisor's leak check (/proc)."""

from __future__ import annotations

import subprocess
import time

from turnout_e2b_server import processes


def grandchild_of(shell: subprocess.Popen[bytes]) -> int:
    """The pid of the `sleep` a shell started in the background (polled: it takes a moment)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = processes.descendants(shell.pid)
        if found:
            return found.pop()
        time.sleep(0.02)
    raise AssertionError("the shell started no child")


def test_descendants_include_a_grandchild() -> None:
    """A process started by a child of the given process is among its descendants."""
    shell = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])
    try:
        assert grandchild_of(shell) in processes.descendants(shell.pid)
    finally:
        shell.kill()
        shell.wait()


def test_a_process_is_running_until_it_ends() -> None:
    """A noted process counts as running while alive, and not once it has exited."""
    child = subprocess.Popen(["sleep", "30"])
    noted = processes.start_times([child.pid])
    assert processes.running(child.pid, noted[child.pid])
    child.kill()
    child.wait()
    assert not processes.running(child.pid, noted[child.pid])


def test_a_reused_pid_is_not_taken_for_the_noted_process() -> None:
    """A pid alive with another start time than the one noted is not that process."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        start = processes.start_times([child.pid])[child.pid]
        assert not processes.running(child.pid, str(int(start) - 1))
    finally:
        child.kill()
        child.wait()
