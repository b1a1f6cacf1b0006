"""Fixtures of the audit's tests: running without a flag file (scripted backends), and a
local E2B-compatible server for the runs on real backends."""

from __future__ import annotations

import os

from turnout_e2b_server.testing import server_fixture

from tests.conformance.support import no_flag_file

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

__all__ = ["e2b_server", "no_flag_file"]

e2b_server = server_fixture("--python-pool", "1", "--javascript-pool", "1", scope="session")
