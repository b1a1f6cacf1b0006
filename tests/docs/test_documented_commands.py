"""Every command line README.md and docs/ show is exercised, so none can silently stop working.

`EXERCISES` maps each concrete documented command line (tests/docs/commands.py finds them)
to how it is exercised:

- `Run`: copied as written and run with bash, in a temporary directory holding copies of
  the files it reads (feature_flags.toml, examples/) and the checkout's .venv, with a
  user's environment (no TURNOUT_* or E2B_* variables of the test run);
- `Serve`: a server command, started as written, asked for its state, stopped with SIGTERM;
- `Mapped`: a run too long for the suite (a full conformance run, bench, chaos, dev.py's
  jobs): its exact options are parsed by the real parser here, and the named test or CI
  step runs it (or its bounded form).

A documented command without an entry fails `test_every_documented_command_is_exercised`;
an entry whose command left the docs fails `test_no_exercise_is_stale`. Synopses (lines
with placeholders) and the `turnout ...` spans of the prose are checked against the parser.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from turnout_e2b_server.testing import first_line

from turnout.cli import build_parser

from ..conftest import DESELECTED
from .commands import (
    ROOT,
    CommandLine,
    documented_commands,
    inline_commands,
    turnout_segment,
    turnout_words,
    unknown_names,
    words,
)

VENV_BIN = Path(sys.executable).parent
DOCUMENTED = documented_commands()
Check = Callable[[str, CommandLine], None]
Setup = Callable[[Path], dict[str, str]]


@dataclass(frozen=True)
class Run:
    """Run the line as written; `segment` runs only its turnout part (the rest of the
    pipeline needs a cluster) with `stdin` as its input."""

    check: Check | None = None
    setup: Setup | None = None
    status: int = 0
    segment: bool = False
    stdin: str | None = None
    in_checkout: bool = False
    """Run in the checkout itself (dev.py's jobs live there), not in a copy."""


ServerCheck = Callable[[str, list[str]], None]
"""Given the server's URL and its argv: assert that it answers with the options given."""


def pools_applied(url: str, argv: list[str]) -> None:
    """`turnout e2b serve`: the admin API reports the kernel pools the line asks for."""
    with httpx.Client(base_url=url, trust_env=False) as client:
        config = client.get("/_turnout/admin/config", headers={"X-API-KEY": "docs"}).json()
    pools = {
        argv[i].removeprefix("--").removesuffix("-pool"): int(argv[i + 1])
        for i in range(len(argv) - 1)
        if argv[i].endswith("-pool")
    }
    assert pools
    assert {language: config["pool_sizes"][language] for language in pools} == pools


def runs_a_node(url: str, _: list[str]) -> None:
    """`turnout serve`: ready, and the node of docs/service.md's curl example answers 42."""
    with httpx.Client(base_url=url, trust_env=False, timeout=300) as client:
        assert client.get("/readyz").status_code == 200
        answer = client.post(
            "/v1/executions",
            json={"node": {"language": "python", "code": "return n * 2"}, "context": {"n": 21}},
        )
    assert (answer.status_code, answer.json()["output"]) == (200, 42), answer.text


@dataclass(frozen=True)
class Serve:
    """Start the server as written, in the checkout (on a free port if its port is
    taken), `check` that it answers with the options given, stop it: exit status 0."""

    check: ServerCheck = pools_applied


@dataclass(frozen=True)
class Mapped:
    """Too long to run here; `test` (`path::Class::name`, or `.ci/run`) runs it."""

    test: str
    why: str
    collect: list[str] = field(default_factory=list)
    """For a pytest selection: arguments whose collection must select tests."""


# -- checks and setups -------------------------------------------------------------------------


def output_is(expected: object) -> Check:
    def check(stdout: str, _: CommandLine) -> None:
        assert json.loads(stdout)["output"] == expected

    return check


def contains(*needles: str) -> Check:
    def check(stdout: str, _: CommandLine) -> None:
        for needle in needles:
            assert needle in stdout

    return check


def as_documented(stdout: str, documented: CommandLine) -> None:
    """The output is exactly the transcript the page shows."""
    assert stdout.splitlines() == documented.output


def starts_as_documented(stdout: str, documented: CommandLine) -> None:
    """The output's first lines are the page's, up to its timing line."""
    shown = [line for line in documented.output if not line.startswith("--- tempdir,")]
    assert stdout.splitlines()[: len(shown)] == shown


def lists_backends(*ids: str) -> Check:
    def check(stdout: str, _: CommandLine) -> None:
        listed = re.findall(r"^(\S+)(?: \[DEPRECATED\])? \(plugin ", stdout, re.MULTILINE)
        assert listed == list(ids)

    return check


def jq_selection(stdout: str, _: CommandLine) -> None:
    """The jq program of the page found local-subprocess with the fields it names."""
    selected = json.loads(stdout)
    assert set(selected) == {"available", "unavailable_reason", "memory", "namespace"}


def production_rollout(directory: Path) -> dict[str, str]:
    """The shipped file's production environment at the runbook's step 5: its commented
    first steps applied (`stage = "shadow"`, then the rollout line), at live 10%."""
    path = directory / "feature_flags.toml"
    before, production = path.read_text(encoding="utf-8").split("[environments.production]")
    for commented in ('# stage = "shadow"', "# rollout = { live = 1 }"):
        assert commented in production, "feature_flags.toml no longer shows the first steps"
    production = production.replace('\nstage = "off"\n', "\n", 1)
    production = production.replace('# stage = "shadow"', 'stage = "shadow"')
    production = production.replace("# rollout = { live = 1 }", "rollout = { live = 10 }")
    path.write_text(f"{before}[environments.production]{production}", encoding="utf-8")
    return {}


def every_environment_complete(directory: Path) -> dict[str, str]:
    """The file as docs/migration-runbook.md asks before deleting legacy: every environment
    of the shipped file at `complete` (step 9's table)."""
    shipped = (directory / "feature_flags.toml").read_text(encoding="utf-8")
    names = re.findall(r"^\[environments\.([\w-]+)\]$", shipped, re.MULTILINE)
    tables = [f'[environments.{n}]\ntarget_backend = "e2b"\nstage = "complete"\n' for n in names]
    text = "schema_version = 1\n\n" + "\n".join(tables)
    (directory / "feature_flags.toml").write_text(text, encoding="utf-8")
    return {}


def tempdir_installed(directory: Path) -> dict[str, str]:
    """docs/writing-a-backend.md's example plugin (examples/backends/tempdir) installed, as
    pip would (a dist-info)."""
    site = directory / "site"
    example = ROOT / "examples" / "backends" / "tempdir" / "src" / "turnout_tempdir"
    shutil.copytree(example, site / "turnout_tempdir")
    info = site / "turnout_tempdir-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: turnout-tempdir\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[turnout]\ntempdir = turnout_tempdir\n")
    return {"PYTHONPATH": str(site)}


def corpus(directory: Path) -> dict[str, str]:
    """nodes.jsonl: the example corpus the page points to."""
    shutil.copy(ROOT / "examples" / "replay" / "workflows.jsonl", directory / "nodes.jsonl")
    return {}


def audit_nodes(directory: Path) -> dict[str, str]:
    """nodes/: stored node configs as a platform exports them (the example nodes), and a
    key in the environment, as production workers have (building e2b never calls E2B)."""
    shutil.copytree(ROOT / "examples" / "nodes", directory / "nodes")
    return {"E2B_API_KEY": "e2b_" + "0" * 40}


def worker_log() -> str:
    """A day of a worker's JSON log, in miniature: one shadow execution and its comparison."""
    from tests.rollout.support import compared, executed

    events = [
        executed(environment="production"),
        executed("e2b", "candidate", environment="production"),
        compared(environment="production"),
    ]
    return "".join(json.dumps(event) + "\n" for event in events)


# -- what exercises each documented command ---------------------------------------------------

CI_CONFORMANCE = ".ci/run"
FRESH = "tests/conformance/test_third_party.py::TestInAFreshEnvironment"
WORKER_TEST = (
    "tests/plugins/temporal/test_worker.py::TestConcurrency::"
    "test_the_worker_takes_as_many_activities_as_its_smallest_backend_runs"
)
EXERCISES: dict[str, Run | Serve | Mapped] = {
    "python3 dev.py demo": Run(in_checkout=True, check=contains('"average": 7.25', '"summary"')),
    "python3 dev.py test": Mapped(CI_CONFORMANCE, "CI runs exactly this on a clean clone"),
    "python3 dev.py cli-docs": Mapped(
        "tests/docs/test_cli_reference.py::test_the_page_is_what_the_parser_prints",
        "the page it writes must equal the parser's rendering, which the test makes",
    ),
    "python3 dev.py sync": Mapped(CI_CONFORMANCE, "`dev.py test` syncs first"),
    "python3 dev.py parity": Mapped(
        CI_CONFORMANCE, "`dev.py test` makes the same conformance run and compares parity.md"
    ),
    "python3 dev.py test -m turnout_e2b_server tests/plugins/e2b_server": Mapped(
        CI_CONFORMANCE,
        "`dev.py test` with arguments passes them to pytest; the whole job runs these too",
        collect=["-m", "turnout_e2b_server", "tests/plugins/e2b_server"],
    ),
    "python3 dev.py test tests/test_codenode.py -k timeout": Mapped(
        CI_CONFORMANCE,
        "`dev.py test` with arguments passes them to pytest",
        collect=["tests/test_codenode.py", "-k", "timeout"],
    ),
    "echo '{\"n\": 21}' | .venv/bin/turnout run --language python --code "
    "'return {\"doubled\": n * 2}' --context -": Run(check=contains('"doubled": 42')),
    ".venv/bin/turnout run --config examples/nodes/summary.javascript.json "
    "--context examples/nodes/context.json --json": Run(check=contains('"summary"')),
    ".venv/bin/turnout backends": Run(check=lists_backends("e2b", "local-subprocess")),
    ".venv/bin/turnout backends --env production --json | jq '.backends[] | select(.id == "
    '"local-subprocess") | {available, unavailable_reason, memory: '
    ".capabilities.memory_enforcement, namespace: (.capabilities.host_environment_visible "
    "| not)}'": Run(check=jq_selection),
    "echo '{\"numbers\": [1, 2, 3]}' | turnout run --language python --code "
    "'return sum(numbers)' --context - --json": Run(check=output_is(6)),
    "turnout run --language python --code '1/0' --json; echo \"exit $?\"": Run(
        check=contains('"kind": "runtime"', "exit 1")
    ),
    "turnout e2b serve --port 49999 --python-pool 2 --javascript-pool 2": Serve(),
    "E2B_API_KEY=... turnout worker --address temporal.internal:7233 --namespace production "
    "--env production": Mapped(
        WORKER_TEST, "starts `turnout worker --address ADDR --env ENV` on Temporal's test server"
    ),
    ".venv/bin/turnout worker": Mapped(
        WORKER_TEST, "the same worker on the test server, started from the checkout's .venv"
    ),
    ".venv/bin/turnout serve --port 8080": Serve(check=runs_a_node),
    "turnout chaos --executions 1000 --concurrency 20 --seed 0": Mapped(
        "tests/plugins/devtools/chaos/test_chaos_ci.py::TestChaosRun",
        "the same run with 100 executions (docs/reliability.md records a 1,000 one)",
    ),
    "turnout conformance --report parity": Mapped(
        "tests/conformance/test_cli.py::TestConformanceCommand::test_the_report_files_are_written",
        "--report on one case; the full run is CI's",
    ),
    "turnout conformance --backend local-subprocess --backend e2b --report parity": Mapped(
        CI_CONFORMANCE, "dev.py's conformance run, with another report directory"
    ),
    ".venv/bin/turnout conformance --backend local-subprocess --backend e2b "
    "--report reports/busy-$n": Mapped(
        CI_CONFORMANCE, "dev.py's conformance run, with another report directory (under load)"
    ),
    "turnout conformance --backend local-subprocess --backend e2b --report reports/conformance": (
        Mapped(CI_CONFORMANCE, "exactly dev.py's conformance run")
    ),
    "turnout conformance --theme security --backend local-subprocess --backend e2b "
    "--report /tmp/sec": Mapped(CI_CONFORMANCE, "the full run includes the security theme"),
    "turnout conformance --backend e2b --theme outputs": Mapped(
        CI_CONFORMANCE,
        "the parity run covers every theme on e2b; a narrowed run's verdict line is "
        "tests/conformance/test_cli.py's",
    ),
    "turnout conformance --mutants --mutant mutant-timeout-late": Mapped(
        CI_CONFORMANCE,
        "the job's mutants step runs every mutant, this one included, and fails unless each "
        "is caught",
    ),
    "turnout conformance --backend tempdir --report report": Mapped(
        f"{FRESH}::test_the_whole_suite_passes_on_the_example",
        "step 3 of the author page, in a fresh environment with the example installed",
    ),
    "turnout conformance --backend local-subprocess --backend tempdir --report report": Mapped(
        f"{FRESH}::test_the_report_covers_the_example", "the author page's differential run"
    ),
    'turnout run --language javascript --code \'console.log("summing"); '
    "numbers.reduce((a, b) => a + b, 0)' --context context.json": Mapped(
        f"{FRESH}::test_the_documented_flag_file_lets_backends_and_run_work",
        "the author page's flag file, then this run, in the fresh environment",
    ),
    "pytest tests/test_conformance.py --conformance-backend tempdir": Mapped(
        f"{FRESH}::test_the_pytest_route_runs_cases_and_properties",
        "the author page's pytest route in the fresh environment",
    ),
    "turnout conformance --mutants": Mapped(
        CI_CONFORMANCE, "`dev.py test` runs the mutant hunt after the suite"
    ),
    "turnout conformance --backend e2b --case outputs.return --case errors.syntax": Mapped(
        CI_CONFORMANCE,
        "the parity run covers both cases on e2b; a narrowed run's verdict line is "
        "tests/conformance/test_cli.py's",
    ),
    "turnout replay nodes.jsonl --backend local-subprocess --backend e2b "
    "--report replay-report": Run(setup=corpus, check=contains("VERDICT")),
    "pytest tests/test_turnout_conformance.py --conformance-backend my-backend": Mapped(
        f"{FRESH}::test_the_pytest_route_runs_cases_and_properties",
        "a plugin author's project running the suite on the documented example plugin",
    ),
    "pytest tests/test_turnout_conformance.py --conformance-backend local-subprocess "
    "--conformance-backend my-backend --conformance-report parity": Mapped(
        f"{FRESH}::test_the_pytest_route_runs_cases_and_properties",
        "the same pytest route; the differential mode is the CLI's, tested there",
    ),
    "pytest tests/conformance/test_suite.py -k security": Mapped(
        CI_CONFORMANCE,
        "part of the suite",
        collect=["tests/conformance/test_suite.py", "-k", "security"],
    ),
    "pytest tests/plugins/local_subprocess/test_backend_attacks.py": Mapped(
        CI_CONFORMANCE,
        "part of the suite",
        collect=["tests/plugins/local_subprocess/test_backend_attacks.py"],
    ),
    "pytest tests/plugins/e2b_server/test_hostile_sandboxes.py "
    "tests/plugins/e2b_server/test_routing.py": Mapped(
        CI_CONFORMANCE,
        "part of the suite",
        collect=[
            "tests/plugins/e2b_server/test_hostile_sandboxes.py",
            "tests/plugins/e2b_server/test_routing.py",
        ],
    ),
    "turnout conformance --theme security --backend local-subprocess --backend e2b": Mapped(
        CI_CONFORMANCE, "the full run includes the security theme (without the busy loops)"
    ),
    "pytest tests/plugins/devtools/chaos": Mapped(
        CI_CONFORMANCE, "part of the suite", collect=["tests/plugins/devtools/chaos"]
    ),
    "pytest tests/test_shutdown.py tests/plugins/e2b/test_shutdown.py": Mapped(
        CI_CONFORMANCE,
        "part of the suite",
        collect=["tests/test_shutdown.py", "tests/plugins/e2b/test_shutdown.py"],
    ),
    "pytest tests/reliability": Mapped(
        CI_CONFORMANCE, "part of the suite", collect=["tests/reliability"]
    ),
    "turnout flags explain --env production --key exec-9 --tenant tenant-54 "
    "--side-effect-free": Run(setup=production_rollout, check=as_documented),
    "turnout flags explain --env production --key exec-1 --tenant tenant-54 "
    "--side-effect-free": Run(setup=production_rollout, check=as_documented),
    "kubectl logs -l app=worker --since=26h | turnout rollout report - --env production": Run(
        segment=True, stdin=worker_log(), check=contains("rollout report: <stdin>")
    ),
    "TURNOUT_DISABLED_PLUGINS=local-subprocess turnout flags validate": Run(
        setup=every_environment_complete, check=contains("valid")
    ),
    "TURNOUT_DISABLED_PLUGINS=local-subprocess turnout backends --env production": Run(
        setup=every_environment_complete, check=lists_backends("e2b")
    ),
    "turnout bench": Mapped(
        "tests/plugins/devtools/bench/test_bench.py::TestCommandLine::test_json_report_of_a_tiny_run_has_every_field",
        "a one-section run with two iterations",
    ),
    "turnout bench --quick": Mapped(
        "tests/plugins/devtools/bench/test_bench.py::TestCommandLine::test_json_report_of_a_tiny_run_has_every_field",
        "a one-section run with two iterations",
    ),
    "turnout bench --json": Mapped(
        "tests/plugins/devtools/bench/test_bench.py::TestCommandLine::test_json_report_of_a_tiny_run_has_every_field",
        "the same, with --json",
    ),
    "turnout bench --only startup": Mapped(
        "tests/plugins/devtools/bench/test_bench.py::TestStartup::"
        "test_the_section_reports_cpu_figures_and_its_three_bounds",
        "the startup section alone, in one round",
    ),
    "turnout bench --only temporal": Mapped(
        "tests/plugins/devtools/bench/test_temporal.py::TestTemporalSection::"
        "test_a_tiny_run_reports_every_figure_on_both_backends",
        "the temporal section alone, with two calls per side",
    ),
    "turnout bench --only service": Mapped(
        "tests/plugins/devtools/bench/test_service.py::test_a_smoke_run_reports_every_figure_and_bound",
        "the service section alone, with two iterations",
    ),
    "turnout audit nodes/ --env production": Run(setup=audit_nodes, check=contains("0 blocked")),
    "turnout audit nodes/ --env production --report audit-report": Run(
        setup=audit_nodes, check=contains("0 blocked")
    ),
    "turnout audit nodes/ exported.jsonl --env staging --run --report audit-report": Mapped(
        "tests/cli/test_audit.py::test_run_executes_on_both_backends_and_reports_where",
        "--run on both backends with --report, on the test nodes",
    ),
    "turnout audit examples/ --context examples/nodes/context.json": Run(
        check=contains("0 blocked")
    ),
    "python3 dev.py screenshots": Mapped(
        "tests/reports/html/test_in_browser.py",
        "the same pages opened in the same browser; the job only keeps their screenshots",
    ),
    "kubectl logs -l app=worker --since=26h | turnout rollout report - --env production "
    "--html rollout.html": Mapped(
        "tests/cli/test_html_options.py::TestRolloutReport",
        "--html on a worker log read from stdin",
    ),
    "turnout bench --quick --html bench.html": Mapped(
        "tests/plugins/devtools/cli/test_html_options.py::TestBench", "--html of a one-section run"
    ),
    "turnout chaos --executions 100 --concurrency 20 --html chaos.html": Mapped(
        "tests/plugins/devtools/cli/test_html_options.py::TestChaos", "--html of a small chaos run"
    ),
    "turnout flags validate feature_flags.toml": Run(check=contains("valid")),
    "turnout backends": Run(setup=tempdir_installed, check=contains("tempdir (plugin tempdir)")),
}


def concrete() -> dict[str, CommandLine]:
    return {text: line for text, line in DOCUMENTED.items() if not line.synopsis}


def exercised(kind: type) -> list[str]:
    return [text for text, exercise in EXERCISES.items() if isinstance(exercise, kind)]


def short(text: str) -> str:
    """A test id: the command, cut."""
    return text if len(text) <= 70 else text[:67] + "..."


def synopses() -> list[str]:
    documented = [text for text, line in DOCUMENTED.items() if line.synopsis]
    return documented + [text for text in inline_commands() if text not in DOCUMENTED]


class TestCoverage:
    def test_the_docs_show_commands(self) -> None:
        """The extraction finds the pages' commands (so that the next tests check something)."""
        assert len(concrete()) >= 30
        assert len(synopses()) >= 20

    def test_every_documented_command_is_exercised(self) -> None:
        """Each concrete command line of README.md and docs/ has an entry in EXERCISES."""
        missing = [
            f"{line.places[0]}: {text}"
            for text, line in concrete().items()
            if text not in EXERCISES
        ]
        assert not missing, "documented but not exercised (add them to EXERCISES):\n" + "\n".join(
            missing
        )

    def test_no_exercise_is_stale(self) -> None:
        """Each entry of EXERCISES is still a command some page shows, exactly as written."""
        stale = [text for text in EXERCISES if text not in concrete()]
        assert not stale, f"no longer in the docs (update or remove): {stale}"


@pytest.mark.parametrize("text", synopses(), ids=short)
def test_a_synopsis_names_only_real_options(text: str) -> None:
    """Every subcommand and option a synopsis or a prose span names exists in the parser."""
    assert unknown_names(turnout_words(text), build_parser()) == []


class TestMapped:
    @pytest.mark.parametrize("text", exercised(Mapped), ids=short)
    def test_the_exact_options_parse(self, text: str, request: pytest.FixtureRequest) -> None:
        """A mapped turnout command parses as written; a dev.py job exists; a pytest
        selection collects tests."""
        mapped = EXERCISES[text]
        assert isinstance(mapped, Mapped)
        tokens = words(text)
        if turnout_words(text):
            arguments = build_parser().parse_args(words(turnout_segment(text))[1:])
            assert callable(arguments.handler)
        elif tokens[:2] == ["python3", "dev.py"]:
            assert tokens[2] in _dev_jobs()
        if mapped.collect:
            here = _collected_here(mapped.collect, request.session)
            assert here > 0 or _collected(mapped.collect) > 0

    @pytest.mark.parametrize("text", exercised(Mapped), ids=short)
    def test_the_named_test_exists(self, text: str) -> None:
        """The test (or CI step) a command is mapped to exists."""
        mapped = EXERCISES[text]
        assert isinstance(mapped, Mapped)
        if mapped.test == CI_CONFORMANCE:
            assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
            return
        path, *names = mapped.test.split("::")
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        scope: list[ast.stmt] = tree.body
        for name in names:
            [node] = [
                node
                for node in scope
                if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name == name
            ]
            scope = node.body


@pytest.mark.slow
@pytest.mark.parametrize("text", exercised(Run), ids=short)
def test_the_documented_command_runs(text: str, tmp_path: Path) -> None:
    """The command, copied from the page, exits as documented and prints what it shows."""
    run = EXERCISES[text]
    assert isinstance(run, Run)
    directory = ROOT if run.in_checkout else checkout_copy(tmp_path)
    extra = run.setup(directory) if run.setup is not None else {}
    command = turnout_segment(text) if run.segment else text
    completed = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=directory,
        env=user_environment(extra),
        input=run.stdin,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == run.status, completed.stderr[-3000:]
    if run.check is not None:
        run.check(completed.stdout, DOCUMENTED[text])


@pytest.mark.slow
@pytest.mark.parametrize("text", exercised(Serve), ids=short)
def test_the_documented_server_starts_and_stops(text: str) -> None:
    """The server command starts with its options (applied), answers, and stops cleanly."""
    serve = EXERCISES[text]
    assert isinstance(serve, Serve)
    argv = words(text)
    port = int(argv[argv.index("--port") + 1])
    if not _free(port):  # another process holds the documented port: same options, another
        argv[argv.index("--port") + 1] = str(port := _free_port())
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=user_environment({}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert first_line(process.stdout, 120.0) == f"http://127.0.0.1:{port}"
        serve.check(f"http://127.0.0.1:{port}", argv)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
    assert status == 0


# -- helpers -------------------------------------------------------------------------------------


def checkout_copy(tmp_path: Path) -> Path:
    """A directory with what the documented commands read: the flag file, the examples, and
    the checkout's .venv (linked, so that `.venv/bin/turnout` works as written)."""
    directory = tmp_path / "checkout"
    directory.mkdir()
    shutil.copy(ROOT / "feature_flags.toml", directory)
    shutil.copytree(ROOT / "examples", directory / "examples")
    (directory / ".venv").symlink_to(ROOT / ".venv")
    return directory


def user_environment(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a user's shell: this checkout's .venv on PATH, and none of the test
    run's TURNOUT_*, E2B_* or PYTHONPATH settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TURNOUT_", "E2B_", "PYTEST_")) and name != "PYTHONPATH"
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("NO_PROXY", "127.0.0.1,localhost")
    return {**env, **extra}


def _dev_jobs() -> set[str]:
    """The job names dev.py accepts (read from its source: importing it would run nothing,
    but it is a script, not a module of the project)."""
    tree = ast.parse((ROOT / "dev.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [
            t.id for t in node.targets if isinstance(t, ast.Name)
        ] == ["JOBS"]:
            assert isinstance(node.value, ast.Dict)
            return {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
    raise AssertionError("dev.py has no JOBS table")


def _collected_here(arguments: list[str], session: pytest.Session) -> int:
    """How many of the tests this session collected `pytest ARGUMENTS` selects, for paths
    and `-k EXPRESSION` (the expression parsed as pytest parses it); 0 when the session
    did not collect them (a run of this file alone) or for any other option, and the
    caller then asks a pytest of its own. In the whole suite's run this spares a pytest
    start-up per documented selection."""
    from _pytest.mark import KeywordMatcher
    from _pytest.mark.expression import Expression

    paths: list[str] = []
    keyword: str | None = None
    given = iter(arguments)
    for argument in given:
        if argument == "-k":
            keyword = next(given)
        elif argument.startswith("-"):
            return 0
        else:
            paths.append(argument.rstrip("/"))
    expression = Expression.compile(keyword) if keyword is not None else None
    count = 0
    for item in [*session.items, *session.config.stash.get(DESELECTED, [])]:
        path = item.nodeid.split("::", 1)[0]
        if not any(path == wanted or path.startswith(wanted + "/") for wanted in paths):
            continue
        if expression is None or expression.evaluate(KeywordMatcher.from_item(item)):
            count += 1
    return count


def _collected(arguments: list[str]) -> int:
    """How many tests `pytest ARGUMENTS` selects (collection only)."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *arguments,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    match = re.search(r"(\d+)(?:/\d+)? tests? (?:collected|selected)", completed.stdout)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert match, completed.stdout[-2000:]
    return int(match.group(1))


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
