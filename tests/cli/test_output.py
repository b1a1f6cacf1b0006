"""How the CLI prints errors: the JSON error object carries the config's warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from turnout.cli import main


class TestErrorJson:
    def test_run_json_prints_the_warnings_of_a_failed_node(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A node saved with `timeout: 30` (seconds meant) and an unknown field fails with
        an error object whose `warnings` say both, and whose message names the units."""
        config = tmp_path / "node.json"
        config.write_text(
            json.dumps(
                {
                    "language": "python",
                    "code": "import time\ntime.sleep(5)\nreturn 1",
                    "timeout": 30,
                    "memoryLimit": 256,
                }
            )
        )
        status = main(["run", "--backend", "local-subprocess", "--config", str(config), "--json"])
        error = json.loads(capsys.readouterr().out)["error"]
        assert (status, error["kind"]) == (1, "timeout")
        assert "30000" in error["message"]
        assert len(error["warnings"]) == 2
        assert any("memoryLimit" in warning for warning in error["warnings"])
        assert any("30000" in warning for warning in error["warnings"])
