"""`turnout e2b serve` and `turnout e2b reap`: the documented options work, the exit codes hold."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from turnout_e2b_server.testing import ServerProcess, first_line

from turnout.cli import main

TURNOUT = str(Path(sys.executable).with_name("turnout"))
KEY = "serve-test-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(*options: str) -> Iterator[str]:
    """`turnout e2b serve OPTIONS` in a child process; yields the URL it prints, then
    stops it with SIGTERM and checks that it exited with status 0."""
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    process = subprocess.Popen(
        [TURNOUT, "e2b", "serve", *options],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        url = first_line(process.stdout, 60.0)
        assert url.startswith("http://"), (url, process.poll())
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        assert process.stderr is not None
        stderr = process.stderr.read().decode(errors="replace")
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()
    assert status == 0, stderr[-2000:]


def admin_config(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, trust_env=False, timeout=30.0) as client:
        response = client.get("/_turnout/admin/config", headers={"X-API-KEY": KEY})
    response.raise_for_status()
    config: dict[str, Any] = response.json()
    return config


class TestServe:
    def test_documented_options_are_accepted_and_applied(self) -> None:
        """--host, --port and the server's own options reach the server that starts."""
        port = free_port()
        options = ("--host", "127.0.0.1", "--port", str(port), "--api-key", KEY)
        tuning = ("--create-delay-ms", "7", "--max-sandboxes", "3")
        pools = ("--python-pool", "0", "--javascript-pool", "0")
        with serving(*options, *tuning, *pools) as url:
            assert url == f"http://127.0.0.1:{port}"
            config = admin_config(url)
        assert (config["create_delay_ms"], config["max_sandboxes"]) == (7, 3)
        assert config["pool_sizes"] == {"python": 0, "javascript": 0}

    def test_help_lists_the_servers_options_and_exits_0(self) -> None:
        """`turnout e2b serve --help` prints the server's options under turnout's name."""
        completed = subprocess.run(
            [TURNOUT, "e2b", "serve", "--help"], capture_output=True, text=True, check=False
        )
        assert completed.returncode == 0, completed.stderr
        assert completed.stdout.startswith("usage: turnout e2b serve")
        for option in ("--host", "--port", "--create-delay-ms", "--python-pool", "--no-isolation"):
            assert option in completed.stdout

    def test_an_unknown_option_is_an_argument_error(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A misspelled server option is refused by the parser (exit 2), naming it."""
        with pytest.raises(SystemExit) as exit_info:
            main(["e2b", "serve", "--prot", "1"])
        assert exit_info.value.code == 2
        assert "--prot" in capsys.readouterr().err


class TestServeWithoutTheServer:
    def test_serve_says_what_to_install_and_exits_2(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without turnout-e2b-server, `turnout e2b serve` still parses its options and
        says to install turnout-e2b[local-server] (exit 2)."""
        for name in [n for n in sys.modules if n.split(".")[0] == "turnout_e2b_server"]:
            monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, "turnout_e2b_server", None)
        assert main(["e2b", "serve", "--port", "0"]) == 2
        assert "install turnout-e2b[local-server]" in capsys.readouterr().err


class TestReap:
    def test_nothing_to_reap_with_an_embedded_server_exits_0(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a key or URL (embedded server) there is nothing to reap: exit 0, and why."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        monkeypatch.delenv("E2B_API_URL", raising=False)
        assert main(["e2b", "reap", "--env", "test", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["sandboxes"] == []
        assert report["note"].startswith("nothing to reap")

    async def test_a_tagged_sandbox_older_than_the_threshold_is_killed(
        self,
        e2b_url: str,
        e2b_server: ServerProcess,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Against a server, a turnout-tagged sandbox past --older-than is killed, exit 0."""
        from e2b_code_interpreter import AsyncSandbox

        sandbox = await AsyncSandbox.create(metadata={"turnout": "1"}, **e2b_server.sdk_options)
        status = await _in_thread(["e2b", "reap", "--env", "test", "--older-than", "0s", "--json"])
        report = json.loads(capsys.readouterr().out)
        assert status == 0
        assert [(s["sandboxId"], s["killed"]) for s in report["sandboxes"]] == [
            (sandbox.sandbox_id, True)
        ]
        assert e2b_server.stats()["sandboxes"] == []

    def test_a_flag_file_that_does_not_exist_is_one_json_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--flags names the flag file; a missing one is a configuration error, exit 1."""
        status = main(["e2b", "reap", "--flags", str(tmp_path / "none.toml"), "--json"])
        error = json.loads(capsys.readouterr().out)["error"]
        assert (status, error["type"]) == (1, "ConfigurationError")


async def _in_thread(argv: list[str]) -> int:
    """Run the CLI (which calls asyncio.run) off the test's event loop."""
    import asyncio

    return await asyncio.to_thread(main, argv)
