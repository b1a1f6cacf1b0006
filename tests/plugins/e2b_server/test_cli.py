"""`python -m turnout_e2b_server`'s command line."""

from __future__ import annotations

import pytest
from turnout_e2b_server.cli import main


class TestRequireIsolation:
    def test_a_server_that_cannot_confine_refuses_to_start(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With --require-isolation, kernels that would run unconfined (here: turned off)
        stop the server with exit status 2 and the reason, before it serves anything."""
        status = main(["--require-isolation", "--no-isolation", "--python-pool", "0"])
        captured = capsys.readouterr()
        assert status == 2
        assert captured.out == ""
        assert "--require-isolation: kernels cannot be confined here: turned off" in captured.err
