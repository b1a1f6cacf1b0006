from __future__ import annotations

import os
from pathlib import Path

import pytest
from turnout_local_subprocess.identity import Identity
from turnout_local_subprocess.interpreters import Interpreters
from turnout_local_subprocess.options import parse_options

from turnout.errors import ConfigurationError, InfrastructureError

from .support import PYTHON

SANDBOX = Identity(65000, 65000, "/usr/bin/setpriv")


class TestInterpreters:
    """Finding each language's interpreter once, and keeping it reachable."""

    def test_under_a_scratch_directory_is_refused_with_the_way_out(self, tmp_path: Path):
        """An interpreter the namespace would hide (under /tmp) fails at once, not started,
        naming isolate_processes = false."""
        link = tmp_path / "python3"
        link.symlink_to(PYTHON)
        interpreters = Interpreters(
            parse_options({"python": str(link)}), owner=None, scratch=(tmp_path,)
        )
        with pytest.raises(InfrastructureError, match="isolate_processes = false") as caught:
            interpreters.find("python")
        assert caught.value.started is False

    def test_with_an_identity_the_real_path_is_started(self, tmp_path: Path):
        """With an unprivileged identity a symlink is resolved: its target is what starts."""
        link = tmp_path / "python3"
        link.symlink_to(PYTHON)
        interpreters = Interpreters(parse_options({"python": str(link)}), owner=SANDBOX, scratch=())
        try:
            assert interpreters.find("python") == os.path.realpath(PYTHON)
        finally:
            interpreters.close()

    @pytest.mark.skipif(not PYTHON.startswith("/root/"), reason="the interpreter is not in /root")
    def test_a_hidden_interpreter_gets_a_kit_that_close_removes(self):
        """pyenv's Python under /root gets an exposure kit, removed by close()."""
        interpreters = Interpreters(parse_options({"python": PYTHON}), owner=SANDBOX, scratch=())
        interpreters.find("python")
        kit = interpreters.kits["python"]
        assert kit.root.is_dir()
        interpreters.close()
        assert not kit.root.exists()

    def test_missing_names_the_option(self):
        """A missing interpreter is a ConfigurationError naming the option to set."""
        interpreters = Interpreters(
            parse_options({"node": "/nonexistent/node"}), owner=None, scratch=()
        )
        with pytest.raises(ConfigurationError, match="'node' option"):
            interpreters.find("javascript")

    def test_argv(self):
        """Python runs isolated and unbuffered; Node with its heap capped below the limit."""
        interpreters = Interpreters(parse_options({"memory_mb": 512}), owner=None, scratch=())
        assert interpreters.argv("python", "py") == ["py", "-I", "-u"]
        assert interpreters.argv("javascript", "node") == ["node", "--max-old-space-size=384"]
