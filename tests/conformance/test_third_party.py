"""The plugin author's path, walked as docs/writing-a-backend.md tells it, in a fresh
virtual environment: install turnout with its `conformance` extra and the example backend
(examples/backends/tempdir, registered by its entry point), run the whole suite on it
(it passes), try it with the documented flag file, run the pytest route, and see broken
variants of it refused. The page's code blocks are the example's files, byte for byte.

Everything is installed offline, from uv's cache, at the versions of uv.lock: the fresh
environment gets the lock's packages through a `pylock.toml` export, then turnout, the
example and local-subprocess from their directories.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "writing-a-backend.md"
EXAMPLE = ROOT / "examples" / "backends" / "tempdir"
MODULE = EXAMPLE / "src" / "turnout_tempdir" / "__init__.py"
TIMEOUT_S = 600

pytestmark = pytest.mark.slow

# Broken variants of the example: each replaces one piece of its source (the replaced text
# must be there) and is refused by the cases named, on the language given.
KILL = "os.killpg(transport.get_pid(), signal.SIGKILL)"
SWEEP = 'await asyncio.to_thread(_kill_marked, f"{TOKEN_VARIABLE}={token}".encode())'
VARIANTS: Mapping[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "tempdir-environment-leaked": (
        (('"PATH": os.defpath,', '**os.environ,\n        "PATH": os.defpath,'),),
        ("isolation.host-secrets-invisible.python",),
    ),
    "tempdir-children-survive": (
        ((KILL, "pass  # nothing is killed"), (SWEEP, "pass")),
        ("isolation.timeout-stops-child-processes.python",),
    ),
    "tempdir-daemons-survive": (
        ((SWEEP, "pass  # what left the session is left alone"),),
        ("security.daemonized-grandchild-at-timeout.python",),
    ),
    "tempdir-truncation-unmarked": (
        (
            (
                "return text + truncation_marker(name, self.cap) if self.truncated(fd) else text",
                "return text",
            ),
        ),
        ("size.stdout-flood.python",),
    ),
    "tempdir-self-kill-retryable": (
        (('return capture, "exited", 128 - returncode', 'return capture, "killed", None'),),
        ("errors.self-kill.python",),
    ),
    "tempdir-timeout-late": (
        (("timeout=timeout_s)", "timeout=2 * timeout_s)"),),
        ("timeouts.late-enforcement-shows.python",),
    ),
}


def documented(label: str, language: str) -> str:
    """The code block of docs/writing-a-backend.md that follows "`label`:" (dedented: a
    block inside a list item is indented with it)."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(rf"`{re.escape(label)}`:\s*```{language}\n(.*?)^ *```", text, re.S | re.M)
    assert found, f"{DOCS} no longer shows {label} in a {language} block"
    return textwrap.dedent(found.group(1))


def uv() -> str:
    """The uv that `python3 dev.py sync` installed (or one on PATH)."""
    found = ROOT / ".bootstrap" / "bin" / "uv"
    if found.exists():
        return str(found)
    on_path = shutil.which("uv")
    assert on_path, "uv is needed: run `python3 dev.py sync`"
    return on_path


def run(
    argv: list[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # An author's shell: neither this repository's flag file nor its test environment.
    ignored = ("TURNOUT_FLAGS_FILE", "TURNOUT_ENV")
    environment = {k: v for k, v in os.environ.items() if k not in ignored}
    environment.update(env or {})
    return subprocess.run(
        argv, cwd=cwd, env=environment, capture_output=True, text=True, timeout=TIMEOUT_S
    )


def output(completed: subprocess.CompletedProcess[str]) -> str:
    return f"exit {completed.returncode}\n{completed.stdout[-6000:]}\n{completed.stderr[-3000:]}"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment: the lock's packages, turnout[conformance], the example and
    local-subprocess, all offline."""
    place = tmp_path_factory.mktemp("fresh")
    python = getattr(sys, "_base_executable", None) or sys.executable
    lock = place / "pylock.toml"
    steps = [
        [uv(), "venv", "--offline", "-q", str(place / "venv"), "--python", python],
        [
            uv(),
            "export",
            "--frozen",
            "--format",
            "pylock.toml",
            "--extra",
            "conformance",
            "--no-dev",
            "--no-emit-workspace",
            "--package",
            "turnout",
            "-q",
            "-o",
            str(lock),
        ],
        [uv(), "pip", "install", "--offline", "-q", "-p", str(place / "venv"), "-r", str(lock)],
        [
            uv(),
            "pip",
            "install",
            "--offline",
            "-q",
            "-p",
            str(place / "venv"),
            "--no-deps",
            f"{ROOT}[conformance]",
            str(EXAMPLE),
            str(ROOT / "plugins" / "local_subprocess"),
        ],
    ]
    for step in steps:
        completed = run(step, cwd=ROOT, env={"UV_NO_PROGRESS": "1"})
        assert completed.returncode == 0, output(completed)
    return place / "venv" / "bin"


@pytest.fixture(scope="module")
def author(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The author's working directory (no feature_flags.toml in it, at first)."""
    return tmp_path_factory.mktemp("author")


@pytest.fixture(scope="module")
def whole_suite(venv: Path, author: Path) -> subprocess.CompletedProcess[str]:
    """`turnout conformance --backend tempdir --report report`, as the page says."""
    return run(
        [str(venv / "turnout"), "conformance", "--backend", "tempdir", "--report", "report"],
        cwd=author,
    )


class TestThePage:
    def test_the_pages_pyproject_is_the_examples(self) -> None:
        """The pyproject.toml the page shows is the example's file."""
        shown = documented("examples/backends/tempdir/pyproject.toml", "toml")
        assert shown == (EXAMPLE / "pyproject.toml").read_text(encoding="utf-8")

    def test_the_pages_module_is_the_examples(self) -> None:
        """The backend module the page shows is the example's file."""
        shown = documented("examples/backends/tempdir/src/turnout_tempdir/__init__.py", "python")
        assert shown == MODULE.read_text(encoding="utf-8")

    def test_every_variant_breaks_the_example_where_it_says(self) -> None:
        """Each broken variant's replaced text is in the example (or it would test nothing)."""
        source = MODULE.read_text(encoding="utf-8")
        missing = [
            (name, old)
            for name, (replacements, _) in VARIANTS.items()
            for old, _ in replacements
            if source.count(old) != 1
        ]
        assert missing == []


# The whole suite on the example includes the timeout cases' bounds: run alone (see the
# `timing` marker), not beside another worker's load.
@pytest.mark.timing
class TestInAFreshEnvironment:
    def test_the_entry_point_registers_the_backend(self, venv: Path, author: Path) -> None:
        """Installed, the example is found through its `turnout` entry point."""
        code = "from turnout.registry import discover; print(discover().ids)"
        completed = run([str(venv / "python"), "-c", code], cwd=author)
        assert "'tempdir'" in completed.stdout, output(completed)

    def test_the_whole_suite_passes_on_the_example(
        self, whole_suite: subprocess.CompletedProcess[str]
    ) -> None:
        """No flag file, the whole suite, nothing unexpected: exit status 0."""
        assert whole_suite.returncode == 0, output(whole_suite)
        assert "UNEXPECTED" not in whole_suite.stdout

    def test_the_report_covers_the_example(
        self, whole_suite: subprocess.CompletedProcess[str], author: Path
    ) -> None:
        """parity.json covers every case of the suite on tempdir."""
        data = json.loads((author / "report" / "parity.json").read_text())
        assert data["selection"]["partial"] is False, output(whole_suite)
        assert [backend["id"] for backend in data["backends"]] == ["tempdir"]

    def test_the_documented_flag_file_lets_backends_and_run_work(
        self, venv: Path, tmp_path: Path
    ) -> None:
        """With the page's flag file, `turnout backends` lists the example and `turnout run`
        runs a node on it."""
        flags = documented("feature_flags.toml", "toml")
        (tmp_path / "feature_flags.toml").write_text(flags)
        (tmp_path / "context.json").write_text('{"numbers": [1, 2, 3]}')
        listed = run([str(venv / "turnout"), "backends"], cwd=tmp_path)
        assert "tempdir (plugin tempdir)\n  example:" in listed.stdout, output(listed)
        code = 'console.log("summing"); numbers.reduce((a, b) => a + b, 0)'
        ran = run(
            [
                str(venv / "turnout"),
                "run",
                "--language",
                "javascript",
                "--code",
                code,
                "--context",
                "context.json",
            ],
            cwd=tmp_path,
        )
        assert ran.stdout.startswith("6\n--- stdout ---\nsumming\n--- tempdir, javascript"), output(
            ran
        )

    def test_the_pytest_route_runs_cases_and_properties(self, venv: Path, tmp_path: Path) -> None:
        """The one-line test module, with the extra's pytest and Hypothesis: a theme's cases
        and the properties pass (none skipped for want of Hypothesis)."""
        (tmp_path / "test_conformance.py").write_text(
            documented("tests/test_conformance.py", "python")
        )
        completed = run(
            [
                str(venv / "python"),
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-rs",
                "--conformance-backend",
                "tempdir",
                "--conformance-theme",
                "outputs",
                "--conformance-examples",
                "3",
            ],
            cwd=tmp_path,
        )
        assert completed.returncode == 0, output(completed)
        assert "skipped" not in completed.stdout.splitlines()[-1], output(completed)

    def test_broken_variants_are_refused(self, venv: Path, tmp_path: Path) -> None:
        """Each broken variant of the example fails the case about the rule it breaks."""
        site = tmp_path / "variants"
        info = site / "turnout_tempdir_variants-0.1.0.dist-info"
        info.mkdir(parents=True)
        source = MODULE.read_text(encoding="utf-8")
        points = ["[turnout]"]
        for name, (replacements, _) in VARIANTS.items():
            module = name.replace("-", "_")
            broken = source.replace('BACKEND_ID = "tempdir"', f'BACKEND_ID = "{name}"')
            for old, new in replacements:
                broken = broken.replace(old, new)
            (site / f"{module}.py").write_text(broken)
            points.append(f"{name} = {module}")
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: turnout-tempdir-variants\nVersion: 0.1.0\n"
        )
        (info / "entry_points.txt").write_text("\n".join(points) + "\n")
        backends = [arg for name in VARIANTS for arg in ("--backend", name)]
        cases = sorted({case for _, catching in VARIANTS.values() for case in catching})
        completed = run(
            [str(venv / "turnout"), "conformance", "--json", *backends]
            + [arg for case in cases for arg in ("--case", case)],
            cwd=tmp_path,
            env={"PYTHONPATH": str(site)},
        )
        assert completed.returncode == 1, output(completed)
        results = {
            (item["id"], backend): result["status"]
            for item in json.loads(completed.stdout)["items"]
            for backend, result in item["results"].items()
        }
        passed = {
            (name, case, results.get((case, name)))
            for name, (_, catching) in VARIANTS.items()
            for case in catching
            if results.get((case, name)) != "fail"
        }
        assert passed == set(), completed.stderr[-3000:]
