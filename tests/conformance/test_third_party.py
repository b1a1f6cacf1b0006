"""A third-party backend, installed through a real entry point, runs the suite.

The plugin is the complete example of docs/writing-a-backend.md (`turnout-tempdir`), taken
from the page itself, so the documented example is proven against the suite. It is
"installed" as a distribution would be: a package plus a `*.dist-info` directory with an
`entry_points.txt` in the `turnout` group, on PYTHONPATH. `importlib.metadata` finds it
there exactly as it finds a pip-installed wheel, so discovery goes through the same path
as in production (no `extra_plugins`). Its author's test module is the one-line import of
the suite, and pytest runs it in a separate process, as a plugin's CI would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "writing-a-backend.md"
# Themes whose cases a process-isolated backend without memory limit or isolation
# guarantees can run: the contract itself (inputs, outputs, conversion, errors, config) and
# the real-world node shapes.
THEMES = ("inputs", "outputs", "conversion", "errors", "config", "legacy")


def documented_plugin() -> str:
    """The source of `src/turnout_tempdir/__init__.py` as docs/writing-a-backend.md shows it."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"`src/turnout_tempdir/__init__\.py`:\s*```python\n(.*?)```", text, re.S)
    assert match, f"{DOCS} no longer shows src/turnout_tempdir/__init__.py in a python block"
    return match.group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory laid out like site-packages after `pip install turnout-tempdir`."""
    root = tmp_path_factory.mktemp("site")
    (root / "turnout_tempdir").mkdir()
    (root / "turnout_tempdir" / "__init__.py").write_text(documented_plugin())
    info = root / "turnout_tempdir-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: turnout-tempdir\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[turnout]\ntempdir = turnout_tempdir\n")
    return root


@pytest.fixture(scope="module")
def suite_run(
    site: Path, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    """The plugin author's run: pytest on the suite, tempdir beside local-subprocess."""
    project = tmp_path_factory.mktemp("author")
    (project / "test_conformance.py").write_text(
        "from turnout.conformance.suite import *  # noqa: F403\n"
    )
    themes = [argument for theme in THEMES for argument in ("--conformance-theme", theme)]
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--conformance-backend",
        "local-subprocess",
        "--conformance-backend",
        "tempdir",
        "--conformance-examples",
        "3",
        "--conformance-report",
        str(project / "report"),
        *themes,
    ]
    environment = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        command, cwd=project, env=environment, capture_output=True, text=True, timeout=300
    )


class TestThirdPartyPlugin:
    def test_the_entry_point_is_discovered(self, site: Path) -> None:
        """The dist-info on PYTHONPATH registers `tempdir` through the `turnout` group."""
        code = "from turnout.registry import discover; print(discover().ids)"
        completed = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONPATH": str(site)},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "'tempdir'" in completed.stdout

    def test_the_suite_passes_on_the_documented_example(
        self, suite_run: subprocess.CompletedProcess[str]
    ) -> None:
        """Every selected case and property passes on tempdir, compared with local-subprocess."""
        assert suite_run.returncode == 0, suite_run.stdout[-4000:] + suite_run.stderr[-2000:]

    def test_the_report_covers_the_third_party_backend(
        self, suite_run: subprocess.CompletedProcess[str], tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        """The parity report written by the plugin has a tempdir column."""
        reports = list(tmp_path_factory.getbasetemp().glob("author*/report/parity.md"))
        assert reports, suite_run.stdout[-2000:]
        assert "`tempdir`" in reports[0].read_text()
