"""`turnout worker` on the command line: a worker that cannot start says why, exit 1;
a bad argument is refused, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from turnout_temporal.testing import free_port

from turnout.cli import main


class TestWorkerCommand:
    def test_an_unreachable_server_exits_1_saying_so(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Nothing listens at the address: exit 1, and the error says the connection failed."""
        status = main(["worker", "--address", f"127.0.0.1:{free_port()}", "--env", "test"])
        assert status == 1
        assert "Failed client connect" in capsys.readouterr().err

    def test_broken_flags_exit_1_naming_the_problem(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A flag file with a bad stage: exit 1 before connecting, naming the key."""
        flags = tmp_path / "feature_flags.toml"
        flags.write_text('schema_version = 1\n[environments.x]\nstage = "bogus"\n')
        status = main(["worker", "--flags", str(flags), "--env", "x"])
        assert status == 1
        assert "environments.x.stage" in capsys.readouterr().err

    @pytest.mark.parametrize("option", ["--grace", "--heartbeat-interval"])
    def test_a_period_that_is_not_positive_exits_2(
        self, option: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A zero grace period or heartbeat interval is refused by the parser."""
        with pytest.raises(SystemExit) as exited:
            main(["worker", option, "0"])
        assert exited.value.code == 2
        assert "must be more than 0 seconds" in capsys.readouterr().err


class TestStartupCost:
    def test_other_commands_do_not_import_the_temporal_sdk(self) -> None:
        """Building the CLI (every `turnout` command does) registers `turnout worker`
        without importing the Temporal SDK, which costs most of a second."""
        probe = (
            "import sys\n"
            "from turnout.cli import build_parser\n"
            "build_parser()\n"
            "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith('temporalio')}))"
        )
        loaded = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
        assert loaded.stdout.strip() == "[]"
