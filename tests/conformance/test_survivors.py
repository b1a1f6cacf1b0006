"""Survivors are found by marks the program cannot shed: the environment its children
inherit and the file the program itself holds open, not only a marker in a command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.conformance.survivors import host_survivors, prelude


def new_marker() -> str:
    return f"turnout-conformance-{uuid.uuid4().hex[:16]}"


def found_within(marker: str, count: int, seconds: float = 10) -> list[str]:
    """The survivors carrying `marker`, once `count` have appeared (or the time is up)."""
    deadline = time.monotonic() + seconds
    found = host_survivors(marker)
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        found = host_survivors(marker)
    return found


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, killed with their children afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        subprocess.run(["pkill", "-KILL", "-s", str(process.pid)], check=False)
        process.kill()
        process.wait()


class TestHostSurvivors:
    def test_a_program_run_by_file_is_found_by_the_file_it_holds(
        self, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
    ) -> None:
        """A Python program whose command line is only its file name is found, because the
        prelude keeps a file named after the marker open."""
        marker = new_marker()
        program = tmp_path / "program.py"
        program.write_text(prelude("python", marker) + "import time\ntime.sleep(30)\n")
        processes.append(
            subprocess.Popen([sys.executable, str(program)], cwd=tmp_path, start_new_session=True)
        )
        [found] = found_within(marker, 1)
        assert found.startswith(f"pid {processes[0].pid} (found by a file it holds open): ")
        assert marker not in found

    def test_a_child_is_found_by_the_environment_it_inherited(
        self, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
    ) -> None:
        """A child whose command line and directory say nothing is found by the marker
        variable the prelude set in its parent's environment."""
        marker = new_marker()
        program = tmp_path / "program.py"
        child = "import os, time; os.chdir('/'); time.sleep(30)"
        code = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {child!r}])"
        program.write_text(prelude("python", marker) + code + "\ntime.sleep(30)\n")
        processes.append(
            subprocess.Popen([sys.executable, str(program)], cwd=tmp_path, start_new_session=True)
        )
        found = found_within(marker, 2)
        assert sorted(line.split(" (")[1].split(")")[0] for line in found) == [
            "found by a file it holds open",
            "found by its environment",
        ]

    @pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
    def test_a_javascript_program_is_found_by_the_file_it_holds(
        self, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
    ) -> None:
        """The JavaScript prelude marks the program the same way."""
        marker = new_marker()
        program = tmp_path / "program.js"
        program.write_text(prelude("javascript", marker) + "setInterval(() => {}, 1000);\n")
        node = shutil.which("node")
        assert node is not None
        processes.append(subprocess.Popen([node, str(program)], cwd=tmp_path))
        [found] = found_within(marker, 1)
        assert "(found by a file it holds open)" in found

    def test_a_zombie_is_not_a_survivor(self, tmp_path: Path) -> None:
        """A process that has exited but is not yet reaped holds nothing and is not reported."""
        marker = new_marker()
        zombie = subprocess.Popen([sys.executable, "-c", "pass", marker])
        deadline = time.monotonic() + 10
        while Path(f"/proc/{zombie.pid}/stat").read_text().split(") ")[1][0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        try:
            assert host_survivors(marker) == []
        finally:
            zombie.wait()
