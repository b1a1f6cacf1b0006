#!/usr/bin/env python3
"""Set up and run turnout on a machine that has only python3 (>= 3.11) and node 20.

Why a script and not a Makefile: a fresh machine may have no `make` and no `uv`, but it
always has the interpreter that runs this file. The script installs a pinned uv into
`.bootstrap/`, lets uv build `.venv/` from `uv.lock`, and then runs the asked-for job:

    python3 dev.py demo    install everything, run the example code nodes, print envelopes
    python3 dev.py test    install everything, run lint, type checks, the whole test suite,
                           the conformance suite against every mutant (each must be
                           caught), and the conformance suite on every backend
                           (docs/parity.md must be what it produces)
    python3 dev.py parity  regenerate docs/parity.md from a conformance run
    python3 dev.py screenshots  regenerate docs/images/*-report.png, the HTML reports as
                           headless Chromium shows them (tests/reports/screenshots.py,
                           tests/plugins/devtools/screenshots.py)
    python3 dev.py cli-docs  regenerate docs/cli-reference.md from the parser
    python3 dev.py sync    install everything only

Nothing is installed outside this checkout, except Debian's Chromium for the browser tests
of the HTML reports: `sync` installs the `chromium` package once per machine where it is
missing and this runs as root (elsewhere it says how, and those tests are skipped).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

UV_VERSION = "0.13.8"
ROOT = Path(__file__).resolve().parent
BOOTSTRAP = ROOT / ".bootstrap"
VENV = ROOT / ".venv"
EXAMPLE_NODES = ("examples/nodes/average.python.json", "examples/nodes/summary.javascript.json")
# Node packages, each installed exactly from its lock file: the local E2B-compatible server's
# JavaScript kernel (TypeScript stripping, a parser for top-level await) and the Temporal
# TypeScript SDK of the cross-language test of `turnout worker`, which need only their
# runtime packages, and the TypeScript client of `turnout serve`, whose tests need its
# build tools (the TypeScript compiler, the OpenAPI type generator).
NODE_PROJECTS = (
    ROOT / "plugins/e2b_server/src/turnout_e2b_server/kernels/js",
    ROOT / "tests/plugins/temporal/ts",
)
NODE_PROJECTS_WITH_BUILD_TOOLS = (ROOT / "clients/typescript",)


def _bin(env_dir: Path, name: str) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / name


def _run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    """Run one step; its duration is printed after it, so that a CI log shows where the
    job's time went."""
    printable = " ".join(str(a) for a in args)
    print(f"$ {printable}", flush=True)
    started = time.monotonic()
    completed = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False)
    print(f"  ({time.monotonic() - started:.0f} s, exit {completed.returncode})", flush=True)
    if completed.returncode != 0:
        raise SystemExit(completed.returncode)


def _uv() -> Path:
    uv = _bin(BOOTSTRAP, "uv")
    marker = BOOTSTRAP / f"uv-{UV_VERSION}"
    if not marker.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(BOOTSTRAP)
        _run(
            _bin(BOOTSTRAP, "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"uv=={UV_VERSION}",
        )
        marker.touch()
    return uv


def _uv_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(UV_PYTHON_DOWNLOADS="never", UV_PYTHON=sys.executable, UV_NO_PROGRESS="1")
    env.pop("VIRTUAL_ENV", None)
    return env


def sync() -> None:
    """Create or update .venv exactly as uv.lock says (no resolution on a fresh machine),
    and each Node project exactly as its package-lock.json says."""
    uv = _uv()
    locked = ["--locked"] if (ROOT / "uv.lock").exists() else []
    # Bytecode compiled once, in parallel, instead of by every process that imports a
    # module: the tests start hundreds of interpreters (kernels, CLI runs, pytest runs).
    _run(uv, "sync", "--all-packages", "--all-extras", "--compile-bytecode", *locked, env=_uv_env())
    for project in (*NODE_PROJECTS, *NODE_PROJECTS_WITH_BUILD_TOOLS):
        lock = project / "package-lock.json"
        marker = project / "node_modules" / ".turnout-installed"
        if marker.exists() and marker.read_bytes() == lock.read_bytes():
            continue
        omit = ["--omit=dev"] if project in NODE_PROJECTS else []
        _run("npm", "ci", *omit, "--no-audit", "--no-fund", "--prefix", project)
        marker.write_bytes(lock.read_bytes())
    _ensure_chromium()


CHROMIUM_MISSING = (
    "note: Chromium is not installed, so the browser tests of the HTML reports (tests/reports) "
    "will be skipped; install Debian's package as root: apt-get install -y chromium"
)


def _ensure_chromium() -> None:
    """Debian's Chromium, which the HTML report tests open the reports in (driven by
    playwright, whose own browser downloads are never used): installed with apt-get when
    missing and this runs as root, once per machine; otherwise a note saying how."""
    if shutil.which("chromium"):
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        print(CHROMIUM_MISSING, flush=True)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        print(f"$ {' '.join(command)}", flush=True)
        if subprocess.run(command, env=env, check=False).returncode != 0:
            print(CHROMIUM_MISSING, flush=True)
            return


def demo() -> None:
    sync()
    for node in EXAMPLE_NODES:
        _run(
            _bin(VENV, "turnout"),
            "run",
            "--config",
            node,
            "--context",
            "examples/nodes/context.json",
            "--json",
        )


def test() -> None:
    # A shell that sets PYTHONDONTWRITEBYTECODE makes each of those interpreters compile
    # turnout's modules and pytest's rewritten plugins again (pytest's start-up: 6.8 s of
    # CPU instead of 2.9 s); the test job keeps what it compiles.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sync()
    python = _bin(VENV, "python")
    _run(python, "-m", "ruff", "check", ".")
    _run(python, "-m", "ruff", "format", "--check", ".")
    _run(python, "-m", "mypy")
    _run(_bin(VENV, "lint-imports"))  # the layers of docs/architecture.md (pyproject.toml)
    if len(sys.argv) > 2:  # a pytest selection
        _run(python, "-m", "pytest", *sys.argv[2:])
        return
    # The whole job. Most tests wait on interpreters, servers and sandboxes, so one worker
    # per core (pytest-xdist; a file's tests stay together, sharing its fixtures) roughly
    # halves the wall time. Tests of a promised time bound then run alone, so that the
    # other worker's load is not what they measure. The conformance cases through pytest
    # are left to the parity run at the end, which runs each of them on both backends.
    parallel = "not timing and not in_parity_run"
    _run(python, "-m", "pytest", "--numprocesses=auto", "--dist=loadfile", "-m", parallel)
    _run(python, "-m", "pytest", "-m", "timing", *timing_files())
    _check_mutants()
    _check_parity()


def timing_files() -> list[str]:
    """The test files that mark tests `timing` (`pytest.mark.timing` in the file itself): the
    timing pass collects only these, not the whole suite (about 15 s of collection).
    tests/test_dev.py checks that no collected timing test is elsewhere."""
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("test_*.py")
        if "mark.timing" in path.read_text(encoding="utf-8")
    )


def _check_mutants() -> None:
    """The suite against every deliberately broken backend: each must be caught
    (docs/conformance.md, "Mutants"); the command fails otherwise."""
    _run(_bin(VENV, "turnout"), "conformance", "--mutants")


PARITY_BACKENDS = ("local-subprocess", "e2b")
PARITY_DOC = ROOT / "docs" / "parity.md"


def _conformance(report: Path) -> None:
    """Every case on every backend, e2b on its embedded local server: E2B_API_KEY is
    removed for this run, so that a developer's key does not send it to the cloud (whose
    report would name another endpoint than the committed one)."""
    arguments = [arg for backend in PARITY_BACKENDS for arg in ("--backend", backend)]
    env = {key: value for key, value in os.environ.items() if key != "E2B_API_KEY"}
    _run(_bin(VENV, "turnout"), "conformance", *arguments, "--report", report, env=env)


def _check_parity() -> None:
    report = ROOT / "reports" / "conformance"
    _conformance(report)
    produced = (report / "parity.md").read_text(encoding="utf-8")
    if not PARITY_DOC.exists() or PARITY_DOC.read_text(encoding="utf-8") != produced:
        raise SystemExit(
            f"{PARITY_DOC.relative_to(ROOT)} is stale: the conformance run produced "
            f"{(report / 'parity.md').relative_to(ROOT)}; run `python3 dev.py parity` "
            "and commit the result"
        )
    print(f"{PARITY_DOC.relative_to(ROOT)} matches this run", flush=True)


def parity() -> None:
    sync()
    report = ROOT / "reports" / "conformance"
    _conformance(report)
    PARITY_DOC.write_text((report / "parity.md").read_text(encoding="utf-8"), encoding="utf-8")
    print(f"wrote {PARITY_DOC.relative_to(ROOT)}", flush=True)


def screenshots() -> None:
    """The report screenshots in docs/images/, from the last full conformance run (made
    here where there is none), a synthetic rollout log, the recorded bench run and a real
    chaos run."""
    sync()
    if not (ROOT / "reports" / "conformance" / "parity.json").exists():
        _conformance(ROOT / "reports" / "conformance")
    _run(_bin(VENV, "python"), "-m", "tests.reports.screenshots")
    _run(_bin(VENV, "python"), "-m", "tests.plugins.devtools.screenshots")


def cli_docs() -> None:
    """docs/cli-reference.md, every command's --help as the parser prints it."""
    sync()
    _run(_bin(VENV, "python"), "-m", "tests.docs.cli_reference")


JOBS = {
    "sync": sync,
    "demo": demo,
    "test": test,
    "parity": parity,
    "screenshots": screenshots,
    "cli-docs": cli_docs,
}

if __name__ == "__main__":
    job = sys.argv[1] if len(sys.argv) > 1 else ""
    if job not in JOBS:
        raise SystemExit(f"usage: python3 dev.py {{{'|'.join(JOBS)}}} [pytest args for test]")
    JOBS[job]()
