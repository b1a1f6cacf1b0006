"""The `turnout` process ends with its own status, even with SDK requests still in flight.

The E2B SDK's HTTP client (pyqwest) completes requests on Rust threads Python never joins;
one completing while the interpreter finalizes aborts the process (status 134) after it
printed its result. `exit_process` ends the process without finalizing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.loop_thread import LoopThread
from turnout.process_exit import _status_of

TURNOUT = str(Path(sys.executable).with_name("turnout"))
ROOT = Path(__file__).resolve().parents[1]
RESPONSE_DELAY_S = 0.3
# Requests in flight when the process ends, answered while it is ending.
CHILD = """
import asyncio, sys
import pyqwest
from turnout.process_exit import exit_process

async def main(url: str) -> None:
    client = pyqwest.Client(pyqwest.HTTPTransport())
    requests = [asyncio.ensure_future(client.get(url)) for _ in range(20)]
    await asyncio.sleep(float(sys.argv[2]))

asyncio.run(main(sys.argv[1]))
exit_process(0)
"""


@pytest.fixture(scope="module")
def slow_server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers every request after RESPONSE_DELAY_S."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(RESPONSE_DELAY_S)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def start() -> asyncio.Server:
        return await asyncio.start_server(answer, "127.0.0.1", 0)

    async def stop(server: asyncio.Server) -> None:
        server.close()
        await server.wait_closed()

    thread = LoopThread("slow-server")
    server = thread.run(start())
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    finally:
        thread.run(stop(server), timeout=10)
        thread.close()


class TestExitProcess:
    @pytest.mark.slow
    def test_requests_answered_while_exiting_never_abort_the_process(
        self, slow_server: str
    ) -> None:
        """With 20 requests answered as the process ends, it exits 0, every time of 15."""
        statuses = []
        for attempt in range(15):
            wait_s = 0.15 + 0.01 * attempt  # the answers land at varying points of the exit
            completed = subprocess.run(
                [sys.executable, "-c", CHILD, slow_server, str(wait_s)],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            statuses.append(completed.returncode)
        assert statuses == [0] * 15

    def test_atexit_handlers_run_and_output_is_flushed(self, tmp_path: Path) -> None:
        """Before the process ends, atexit handlers run and buffered stdout is written."""
        marker = tmp_path / "ran"
        script = (
            "import atexit, pathlib, sys\n"
            "from turnout.process_exit import exit_process\n"
            f"atexit.register(pathlib.Path({str(marker)!r}).touch)\n"
            "sys.stdout.write('unflushed')\n"
            "exit_process(3)\n"
        )
        completed = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
        )
        assert (completed.returncode, completed.stdout, marker.exists()) == (3, "unflushed", True)

    @pytest.mark.parametrize(
        ("code", "status"), [(None, 0), (0, 0), (2, 2), (256 + 4, 4), ("message", 1)]
    )
    def test_system_exit_codes_become_the_status_python_gives(
        self, code: object, status: int
    ) -> None:
        """SystemExit(code) gives the exit status `sys.exit(code)` would."""
        assert _status_of(code) == status


class TestTurnoutOnE2B:
    @pytest.mark.slow
    def test_turnout_run_on_e2b_exits_0_every_time(self, tmp_path: Path) -> None:
        """`turnout run --backend e2b` (the embedded local server) exits 0, 8 times of 8,
        each time with exactly one JSON envelope on stdout."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("TURNOUT_", "E2B_"))
        }
        env["NO_PROXY"] = "127.0.0.1,localhost"
        (tmp_path / "feature_flags.toml").write_text(
            (ROOT / "feature_flags.toml").read_text(encoding="utf-8"), encoding="utf-8"
        )
        command = [TURNOUT, "run", "--backend", "e2b", "--language", "python", "--json"]
        code = ["--code", "print('hi'); return 'x' * 1_000_000"]
        outcomes = []
        for _ in range(8):
            completed = subprocess.run(
                [*command, *code],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            envelope = json.loads(completed.stdout) if completed.returncode == 0 else {}
            outcomes.append((completed.returncode, len(envelope.get("output", ""))))
        assert outcomes == [(0, 1_000_000)] * 8
