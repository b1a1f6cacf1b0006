from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import json
import os
import resource
import time
import uuid
import warnings
from pathlib import Path

import psutil
import pytest
from turnout_local_subprocess import LegacyBackendDeprecationWarning, LocalSubprocessBackend
from turnout_local_subprocess.cgroups import Jail
from turnout_local_subprocess.cgroups import probe as probe_cgroups
from turnout_local_subprocess.limits import Confinement

from turnout.backend import BackendSettings, ExecutionBackend, declared_max_concurrency
from turnout.contract import prepare_request
from turnout.contract.outcome import decode_result
from turnout.errors import CodeExecutionError, ConfigurationError, InfrastructureError
from turnout.logging import capture_logs
from turnout.models import CodeNodeConfig, ExecutionRequest, ExecutionResult, Language

from .support import (
    PYTHON,
    BackendFactory,
    alive,
    exists,
    host_mounts,
    kill_marked,
    marked,
    needs_cgroups,
    needs_namespaces,
    new_marker,
    request,
    run,
)

ALLOWED_VARIABLES = {"PATH", "LANG", "LC_ALL", "HOME", "TZ"}

# `{marker}` goes into the grandchild's command line, so the test can find it on the host.
GRANDCHILD = """
import subprocess, sys, time
code = "import time; print('started', flush=True); time.sleep(60)"
subprocess.Popen([sys.executable, "-c", code, "{marker}"])
while True:
    time.sleep(0.05)
"""

# Leaves the session and the working directory and ignores SIGTERM: out of reach of the
# session kill and of the /proc scan of rlimit mode.
ESCAPING_GRANDCHILD = """
import subprocess, sys, time
code = (
    "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); os.chdir('/'); "
    "print('started', flush=True); time.sleep(60)"
)
subprocess.Popen([sys.executable, "-c", code, "{marker}"], start_new_session=True)
while True:
    time.sleep(0.05)
"""


class TestRunning:
    """Programs run with the right interpreter and their output comes back exactly."""

    async def test_python_output_is_captured_exactly(self, backend: LocalSubprocessBackend):
        """Python's stdout and stderr come back byte for byte, including non-ASCII text."""
        program = "import sys\nsys.stdout.write('out\\nline 2')\nsys.stderr.write('err ✓\\n')"
        result = await run(backend, "python", program)
        assert (result.stdout, result.stderr) == ("out\nline 2", "err ✓\n")
        assert (result.termination, result.exit_code) == ("exited", 0)

    async def test_node_output_is_captured_exactly(self, backend: LocalSubprocessBackend):
        """Node's stdout and stderr come back byte for byte, including non-ASCII text."""
        program = "process.stdout.write('out\\n'); process.stderr.write('err ✓');"
        result = await run(backend, "javascript", program)
        assert (result.stdout, result.stderr) == ("out\n", "err ✓")
        assert (result.termination, result.exit_code) == ("exited", 0)

    async def test_invalid_utf8_is_replaced(self, backend: LocalSubprocessBackend):
        """Bytes that are not UTF-8 become U+FFFD instead of failing the execution."""
        result = await run(backend, "python", "import sys; sys.stdout.buffer.write(b'a\\xffb')")
        assert result.stdout == "a\ufffdb"

    async def test_python_runs_isolated(self, backend: LocalSubprocessBackend):
        """Python runs with -I: no user site, and PYTHON* variables would be ignored."""
        result = await run(backend, "python", "import sys; print(sys.flags.isolated)")
        assert result.stdout == "1\n"

    async def test_node_runs_commonjs(self, backend: LocalSubprocessBackend):
        """The JavaScript program is CommonJS whatever package.json lies above the temp dir."""
        result = await run(backend, "javascript", "console.log(typeof require, typeof module)")
        assert result.stdout == "function object\n"

    async def test_default_python_is_found_on_path(self, make_backend: BackendFactory):
        """Without a configured interpreter, python3 from PATH runs the program."""
        backend = make_backend(python=None)
        result = await run(backend, "python", "print(6 * 7)")
        assert (result.stdout, result.exit_code) == ("42\n", 0)

    async def test_timings_are_reported(self, backend: LocalSubprocessBackend):
        """Timings include at least spawn and run, and no sandbox id is claimed."""
        result = await run(backend, "python", "pass")
        assert {"spawn", "run"} <= set(result.timings_ms)
        assert result.sandbox_id is None


class TestExitCodes:
    """A failing program is a result with its exit code, never an exception."""

    async def test_python_exit_code(self, backend: LocalSubprocessBackend):
        """sys.exit(3) is reported as exited with code 3."""
        result = await run(backend, "python", "raise SystemExit(3)")
        assert (result.termination, result.exit_code) == ("exited", 3)

    async def test_python_exception_is_a_result(self, backend: LocalSubprocessBackend):
        """An uncaught exception exits with 1 and its traceback is in stderr."""
        result = await run(backend, "python", "raise ValueError('boom')")
        assert (result.termination, result.exit_code) == ("exited", 1)
        assert "ValueError: boom" in result.stderr

    async def test_node_exit_code(self, backend: LocalSubprocessBackend):
        """process.exit(7) is reported as exited with code 7."""
        result = await run(backend, "javascript", "process.exit(7)")
        assert (result.termination, result.exit_code) == ("exited", 7)

    async def test_node_syntax_error_is_a_result(self, backend: LocalSubprocessBackend):
        """A program Node cannot parse exits non-zero with the SyntaxError in stderr."""
        result = await run(backend, "javascript", "const = ;")
        assert result.termination == "exited"
        assert result.exit_code != 0
        assert "SyntaxError" in result.stderr


class TestSignalDeaths:
    """A signal death turnout did not cause is the program's own: `exited` with 128 + n.

    `killed` (a retryable infrastructure error) is kept for a sandbox ended from outside.
    """

    @pytest.fixture(params=["auto", False], ids=["namespace", "no-namespace"])
    def either(self, request: pytest.FixtureRequest, make_backend: BackendFactory):
        return make_backend(isolate_processes=request.param)

    async def test_python_killing_itself_is_exited(self, either: LocalSubprocessBackend):
        """os.kill(os.getpid(), 9) is exited with 137, with or without the namespace."""
        result = await run(either, "python", "import os; os.kill(os.getpid(), 9)")
        assert (result.termination, result.exit_code) == ("exited", 137)

    async def test_segmentation_fault_is_exited(self, either: LocalSubprocessBackend):
        """A segmentation fault is exited with 139, and nothing is added to stderr."""
        result = await run(either, "python", "import ctypes; ctypes.string_at(0)")
        assert (result.termination, result.exit_code, result.stderr) == ("exited", 139, "")

    async def test_node_killing_itself_is_exited(self, either: LocalSubprocessBackend):
        """process.kill(process.pid, 'SIGKILL') is exited with 137."""
        result = await run(either, "javascript", "process.kill(process.pid, 'SIGKILL');")
        assert (result.termination, result.exit_code) == ("exited", 137)

    async def test_python_sigterm_to_itself_is_exited(self, either: LocalSubprocessBackend):
        """A default-handled SIGTERM the program sends itself ends it (143), as anywhere."""
        result = await run(either, "python", "import os, signal; os.kill(os.getpid(), 15)")
        assert (result.termination, result.exit_code) == ("exited", 143)

    async def test_self_kill_decodes_as_a_runtime_error(self, either: LocalSubprocessBackend):
        """Through turnout's decoder the self-kill is the code's runtime error, not retryable."""
        result = await run(either, "python", "import os; os.kill(os.getpid(), 9)")
        with pytest.raises(CodeExecutionError) as caught:
            decode_result(
                result,
                language="python",
                timeout_ms=10_000,
                max_result_bytes=1 << 20,
                backend="local-subprocess",
            )
        assert caught.value.kind == "runtime"
        assert "exit code 137" in str(caught.value)

    @needs_namespaces
    async def test_sandbox_killed_from_outside_is_killed(self, backend: LocalSubprocessBackend):
        """The namespace's init killed from the host is `killed`: retryable infrastructure."""
        marker = new_marker()
        program = (
            "import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'])\n"
            "time.sleep(60)"
        )
        task = asyncio.create_task(run(backend, "python", program, timeout_ms=30_000))
        child = await _first_marked(marker)
        init = child.parent().parent()
        assert "turnout-init" in init.cmdline()
        init.kill()
        result = await task
        # util-linux 2.38 turns its child's SIGKILL into exit status 1, later ones into a
        # SIGKILL of its own (137); the init's missing report decides either way.
        assert result.termination == "killed"
        assert result.exit_code in (None, 137)
        assert marked(marker) == []
        with pytest.raises(InfrastructureError) as caught:
            decode_result(
                result,
                language="python",
                timeout_ms=30_000,
                max_result_bytes=1 << 20,
                backend="local-subprocess",
            )
        assert caught.value.retryable is True


class TestFiles:
    """Request files go in, the result file comes out, paths stay inside the working dir."""

    async def test_request_files_are_written_first(self, backend: LocalSubprocessBackend):
        """Files from the request exist, in subdirectories too, when the program starts."""
        program = "print(open('data/in.txt').read())"
        result = await run(backend, "python", program, files={"data/in.txt": b"hello"})
        assert result.stdout == "hello\n"

    async def test_result_file_is_returned(self, backend: LocalSubprocessBackend):
        """The bytes the program wrote at result_path come back as the result."""
        program = "require('fs').writeFileSync('out/r.json', '{\"a\": 1}')"
        files = {"out/.keep": b""}
        result = await run(backend, "javascript", program, files=files, result_path="out/r.json")
        assert result.result == b'{"a": 1}'
        assert result.result_too_large is False

    async def test_missing_result_is_none(self, backend: LocalSubprocessBackend):
        """A program that writes no result file gets result None, not an error."""
        result = await run(backend, "python", "pass")
        assert (result.result, result.result_too_large) == (None, False)

    async def test_result_at_the_cap_is_returned(self, backend: LocalSubprocessBackend):
        """A result exactly max_result_bytes long is still returned."""
        program = "open('result.bin', 'wb').write(b'x' * 10)"
        result = await run(backend, "python", program, max_result_bytes=10)
        assert result.result == b"x" * 10

    async def test_result_over_the_cap_is_flagged(self, backend: LocalSubprocessBackend):
        """A result larger than max_result_bytes is dropped and flagged as too large."""
        program = "open('result.bin', 'wb').write(b'x' * 11)"
        result = await run(backend, "python", program, max_result_bytes=10)
        assert (result.result, result.result_too_large) == (None, True)

    async def test_backend_result_cap_applies(self, make_backend: BackendFactory):
        """The backend's own max_result_bytes caps a request that allows more."""
        backend = make_backend(max_result_bytes=4)
        result = await run(backend, "python", "open('result.bin', 'wb').write(b'12345')")
        assert result.result_too_large is True

    @pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../b", ""])
    async def test_escaping_file_paths_are_rejected(
        self, backend: LocalSubprocessBackend, path: str
    ):
        """A request file outside the working directory is a ConfigurationError."""
        with pytest.raises(ConfigurationError, match="inside the working directory"):
            await run(backend, "python", "pass", files={path: b"x"})

    @pytest.mark.parametrize("path", ["../result.bin", "/tmp/result.bin"])
    async def test_escaping_result_path_is_rejected(
        self, backend: LocalSubprocessBackend, path: str
    ):
        """A result_path outside the working directory is a ConfigurationError."""
        with pytest.raises(ConfigurationError, match="result_path"):
            await run(backend, "python", "pass", result_path=path)


class TestEnvironment:
    """User code sees an allow-listed environment, never the host's."""

    @pytest.fixture(autouse=True)
    def planted(self, monkeypatch: pytest.MonkeyPatch) -> str:
        canary = f"canary-{uuid.uuid4().hex}"
        monkeypatch.setenv("E2B_API_KEY", "e2b_secret_planted_by_test")
        monkeypatch.setenv("TURNOUT_TEST_CANARY", canary)
        return canary

    async def test_python_sees_only_the_allow_list(
        self, backend: LocalSubprocessBackend, planted: str
    ):
        """os.environ and /proc/self/environ hold only PATH, LANG, LC_ALL, HOME and TZ."""
        program = (
            "import json, os\n"
            "raw = open('/proc/self/environ', 'rb').read().decode()\n"
            "print(json.dumps({'environ': dict(os.environ), 'proc': raw, 'cwd': os.getcwd()}))"
        )
        seen = json.loads((await run(backend, "python", program)).stdout)
        assert set(seen["environ"]) == ALLOWED_VARIABLES
        assert {entry.split("=")[0] for entry in seen["proc"].split("\0") if entry} == (
            ALLOWED_VARIABLES
        )
        for text in (json.dumps(seen["environ"]), seen["proc"]):
            assert "e2b_secret_planted_by_test" not in text
            assert planted not in text
        assert seen["environ"]["HOME"] == seen["cwd"]
        assert (seen["environ"]["TZ"], seen["environ"]["LC_ALL"]) == ("UTC", "C.UTF-8")

    async def test_node_sees_only_the_allow_list(
        self, backend: LocalSubprocessBackend, planted: str
    ):
        """process.env holds only the allow-listed variables, without the planted secrets."""
        program = "console.log(JSON.stringify(process.env))"
        environ = json.loads((await run(backend, "javascript", program)).stdout)
        assert set(environ) == ALLOWED_VARIABLES
        assert planted not in json.dumps(environ)
        assert os.environ["PATH"] == environ["PATH"]


# Looks for the secrets everywhere a program could: its own environment, its parent's,
# PID 1's, the worker's and the holder's by pid, and every /proc/<pid>/environ it can see.
SECRET_HUNT = """
import json, os
found = {{}}
places = {{"os.environ": "\\0".join(f"{{k}}={{v}}" for k, v in os.environ.items()).encode()}}
for pid in ["self", str(os.getppid()), "1", "{worker}", "{holder}"] + os.listdir("/proc"):
    if pid == "self" or pid.isdigit():
        try:
            with open(f"/proc/{{pid}}/environ", "rb") as handle:
                places[f"/proc/{{pid}}/environ"] = handle.read()
        except OSError:
            pass
for place, data in places.items():
    for secret in ({secrets}):
        if secret.encode() in data:
            found.setdefault(place, []).append(secret)
print(json.dumps({{"found": found, "looked": len(places)}}))
"""


class TestHostSecrets:
    """Secrets in the worker's (or an ancestor's) environment stay out of user code's reach.

    /proc/<pid>/environ shows the environment a process was started with, so a secret
    planted with os.environ in this test process would not show there even if the test
    failed. A holder process started with the secrets stands in for the worker's
    ancestors (shell, supervisor, CI runner) and for a worker started with them.
    """

    KEY = "e2b_secret_planted_by_test"

    @pytest.fixture
    def holder(self, monkeypatch: pytest.MonkeyPatch):
        canary = f"canary-{uuid.uuid4().hex}"
        monkeypatch.setenv("E2B_API_KEY", self.KEY)
        monkeypatch.setenv("TURNOUT_TEST_CANARY", canary)
        process = psutil.Popen(
            ["sleep", "60"], env={"E2B_API_KEY": self.KEY, "TURNOUT_TEST_CANARY": canary}
        )
        yield process, canary
        process.kill()
        process.wait()

    def hunt(self, holder: tuple[psutil.Popen, str]) -> str:
        process, canary = holder
        return SECRET_HUNT.format(
            worker=os.getpid(), holder=process.pid, secrets=repr((self.KEY, canary))
        )

    @needs_namespaces
    async def test_python_finds_no_secret_anywhere(
        self, backend: LocalSubprocessBackend, holder: tuple[psutil.Popen, str]
    ):
        """With the namespace, no environ the program can open holds a planted secret."""
        seen = json.loads((await run(backend, "python", self.hunt(holder))).stdout)
        assert seen["found"] == {}
        assert seen["looked"] >= 3  # os.environ, /proc/self and /proc/1 at least

    @needs_namespaces
    async def test_node_finds_no_secret_anywhere(
        self, backend: LocalSubprocessBackend, holder: tuple[psutil.Popen, str]
    ):
        """Node scanning every /proc/<pid>/environ it can see finds no planted secret."""
        _, canary = holder
        program = (
            "const fs = require('fs'); const found = [];\n"
            "for (const pid of ['self', '1', String(process.ppid), ...fs.readdirSync('/proc')]) {\n"
            "  let data = ''; try { data = fs.readFileSync(`/proc/${pid}/environ`, 'latin1'); }"
            " catch (e) { continue; }\n"
            f"  if (data.includes('{canary}') || data.includes('{self.KEY}')) found.push(pid);\n"
            "}\n"
            "console.log(JSON.stringify(found));"
        )
        result = await run(backend, "javascript", program)
        assert json.loads(result.stdout) == []

    @needs_namespaces
    async def test_program_sees_only_its_namespace(self, backend: LocalSubprocessBackend):
        """The program is not PID 1, its parent is the namespace's init, and /proc shows
        no process of the host."""
        program = (
            "import os\n"
            "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "print(os.getpid(), os.getppid(), pids)"
        )
        pid, parent, visible = (await run(backend, "python", program)).stdout.split(" ", 2)
        assert int(pid) > 1
        assert int(parent) == 1
        assert json.loads(visible) == [1, int(pid)]

    async def test_without_the_namespace_the_holder_is_readable(
        self, make_backend: BackendFactory, holder: tuple[psutil.Popen, str]
    ):
        """With isolate_processes = false the same hunt finds the secrets (the test is able
        to see a leak), and the capability says so."""
        backend = make_backend(isolate_processes=False)
        seen = json.loads((await run(backend, "python", self.hunt(holder))).stdout)
        assert f"/proc/{holder[0].pid}/environ" in seen["found"]
        assert backend.capabilities.host_environment_visible is True


class TestWorkingDirectory:
    """Each execution gets a fresh private directory that is removed afterwards."""

    async def test_each_execution_starts_empty(self, backend: LocalSubprocessBackend):
        """A file left by one execution is not there for the next, in a different directory."""
        first = await run(backend, "python", "import os; open('left.txt', 'w'); print(os.getcwd())")
        second = await run(backend, "python", "import os; print(os.getcwd(), os.listdir('.'))")
        assert second.stdout.split(" ", 1)[1] == "[]\n"
        assert first.stdout.strip() != second.stdout.split(" ", 1)[0]

    async def test_directory_is_removed_afterwards(self, backend: LocalSubprocessBackend):
        """The working directory and its temporary parent are gone once execute returns."""
        result = await run(backend, "python", "import os; print(os.getcwd())")
        workdir = Path(result.stdout.strip())
        assert workdir.name == "work"
        assert not exists(workdir)
        assert not exists(workdir.parent)

    async def test_directory_is_removed_after_a_failure(self, backend: LocalSubprocessBackend):
        """A failing program's directory is removed too, read-only subdirectories included."""
        program = (
            "import os; os.makedirs('locked/inner'); open('locked/inner/f', 'w')\n"
            "os.chmod('locked', 0o500); print(os.getcwd()); raise SystemExit(2)"
        )
        result = await run(backend, "python", program)
        assert result.exit_code == 2
        assert not exists(Path(result.stdout.strip()).parent)

    async def test_program_file_is_outside_the_working_directory(
        self, backend: LocalSubprocessBackend
    ):
        """The program file is not in the working directory the user code can see and clean."""
        program = "import os; print(os.path.dirname(os.path.abspath(__file__)), os.getcwd())"
        result = await run(backend, "python", program)
        control, cwd = result.stdout.split()
        assert not control.startswith(cwd)


@needs_namespaces
class TestScratchDirectories:
    """/tmp, /var/tmp and /dev/shm are private to each execution and go with it."""

    async def test_scratch_files_do_not_persist(self, backend: LocalSubprocessBackend):
        """Files left in the scratch directories are not there for the next execution, nor
        on the host."""
        name = new_marker()
        places = [f"/tmp/{name}", f"/var/tmp/{name}", f"/dev/shm/{name}"]
        write = f"for path in {places!r}:\n    open(path, 'w').write('x')\nprint('written')"
        check = f"import os\nprint([p for p in {places!r} if os.path.exists(p)])"
        assert (await run(backend, "python", write)).stdout == "written\n"
        assert (await run(backend, "python", check)).stdout == "[]\n"
        assert [path for path in places if exists(path)] == []

    async def test_host_tmp_is_hidden(self, backend: LocalSubprocessBackend, tmp_path: Path):
        """The host's /tmp (other executions' directories too) is not visible; the private
        one is writable through tempfile."""
        secret = tmp_path / "host-only.txt"
        secret.write_text("host")
        program = (
            "import glob, os, tempfile\n"
            f"print(os.path.exists({str(secret)!r}), len(glob.glob('/tmp/turnout-local-*')))\n"
            "with tempfile.NamedTemporaryFile() as handle:\n"
            "    print(os.path.dirname(handle.name))"
        )
        result = await run(backend, "python", program)
        assert result.stdout == "False 1\n/tmp\n"

    async def test_mounts_do_not_reach_the_host(self, backend: LocalSubprocessBackend):
        """Nothing the namespace mounted shows in the worker's mount table."""
        result = await run(backend, "python", "import os; print(os.getcwd())")
        root = str(Path(result.stdout.strip()).parent)
        assert root not in host_mounts()

    async def test_paths_resolve_as_on_the_host(self, backend: LocalSubprocessBackend):
        """cwd, HOME and the program path are the host's paths, so Node's script-mode check
        (path.resolve(process.argv[1]) === __filename) holds."""
        program = (
            "const path = require('path');\n"
            "console.log(path.resolve(process.argv[1]) === __filename, process.cwd() === "
            "process.env.HOME, require('fs').existsSync(__filename));"
        )
        result = await run(backend, "javascript", program)
        assert result.stdout == "true true true\n"

    async def test_workspace_path_with_spaces(
        self, make_backend: BackendFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ):
        """A temporary directory whose path has spaces works (fstab escaping)."""
        spaced = tmp_path / "with space\tand tab"
        spaced.mkdir()
        monkeypatch.setattr("tempfile.tempdir", str(spaced))
        backend = make_backend()
        program = "open('/tmp/x', 'w').write('y'); import os; print(os.getcwd())"
        result = await run(backend, "python", program)
        assert result.stdout.startswith(str(spaced))
        assert result.exit_code == 0

    async def test_interpreter_under_tmp_is_explained(
        self, make_backend: BackendFactory, tmp_path: Path
    ):
        """An interpreter under /tmp cannot be started in the namespace; the error says why."""
        script = tmp_path / "python3"
        script.write_text(f'#!/bin/sh\nexec {PYTHON} "$@"\n')
        script.chmod(0o755)
        backend = make_backend(python=str(script))
        with pytest.raises(InfrastructureError, match="isolate_processes = false") as caught:
            await run(backend, "python", "pass")
        assert caught.value.started is False

    async def test_setup_failure_is_infrastructure(self, make_backend: BackendFactory):
        """When the init cannot prepare the namespace, the program never ran: an
        InfrastructureError with started=False carrying what the init said."""
        backend = make_backend()
        namespaces = backend._namespaces
        assert namespaces is not None
        backend._namespaces = dataclasses.replace(namespaces, mount="/bin/false")
        with pytest.raises(InfrastructureError, match="could not set up") as caught:
            await run(backend, "python", "print('ran')")
        assert caught.value.started is False


@pytest.mark.timing
class TestTimeout:
    """At the wall-clock bound everything the program started is killed, promptly."""

    async def test_busy_loop_times_out_within_bound(self, backend: LocalSubprocessBackend):
        """`while True: pass` with a 1000 ms timeout returns `timeout` within 1.5 s."""
        started = time.monotonic()
        result = await run(backend, "python", "while True: pass", timeout_ms=1000)
        assert time.monotonic() - started < 1.5
        assert (result.termination, result.exit_code) == ("timeout", None)

    @pytest.mark.parametrize("language", ["python", "javascript"])
    async def test_a_timeout_shorter_than_the_set_up_is_a_timeout(
        self, backend: LocalSubprocessBackend, language: Language
    ):
        """A 1 ms timeout can end before the namespace has been set up: that is still the
        user's timeout, not a retryable infrastructure error (a retry would repeat it)."""
        code = "while True: pass" if language == "python" else "while (true) {}"
        for _ in range(10):  # the kill lands at any point of the set-up: try several
            result = await run(backend, language, code, timeout_ms=1)
            assert (result.termination, result.exit_code) == ("timeout", None)

    async def test_grandchild_is_killed(self, backend: LocalSubprocessBackend):
        """A process the program started dies with it at the timeout."""
        marker = new_marker()
        started = time.monotonic()
        result = await run(backend, "python", GRANDCHILD.format(marker=marker), timeout_ms=1000)
        assert time.monotonic() - started < 1.5
        assert (result.termination, result.stdout) == ("timeout", "started\n")
        assert marked(marker) == []

    @needs_cgroups
    async def test_escaped_grandchild_is_killed_by_the_cgroup(self, make_backend: BackendFactory):
        """Without the namespace, a grandchild that left the session and the directory and
        ignores SIGTERM is killed through the cgroup."""
        backend = make_backend(isolate_processes=False)
        marker = new_marker()
        started = time.monotonic()
        program = ESCAPING_GRANDCHILD.format(marker=marker)
        result = await run(backend, "python", program, timeout_ms=1000)
        assert time.monotonic() - started < 1.5
        assert (result.termination, result.stdout) == ("timeout", "started\n")
        assert marked(marker) == []

    @needs_namespaces
    async def test_escaped_grandchild_is_killed_by_the_namespace(
        self, make_backend: BackendFactory
    ):
        """Without cgroups, the same escapee dies with the namespace's init."""
        backend = make_backend(use_cgroups=False)
        marker = new_marker()
        started = time.monotonic()
        program = ESCAPING_GRANDCHILD.format(marker=marker)
        result = await run(backend, "python", program, timeout_ms=1000)
        assert time.monotonic() - started < 1.5
        assert (result.termination, result.stdout) == ("timeout", "started\n")
        assert marked(marker) == []

    async def test_rlimit_mode_without_namespace_returns_on_time_despite_an_escapee(
        self, make_backend: BackendFactory
    ):
        """With neither cgroups nor the namespace, the escapee is out of reach (as
        documented) and holds stdout open; the call still returns within the bound."""
        backend = make_backend(use_cgroups=False, isolate_processes=False)
        marker = new_marker()
        try:
            started = time.monotonic()
            program = ESCAPING_GRANDCHILD.format(marker=marker)
            result = await run(backend, "python", program, timeout_ms=1000)
            assert time.monotonic() - started < 1.5
            assert result.termination == "timeout"
            assert len(marked(marker)) == 1
        finally:
            kill_marked(marker)

    async def test_pending_await_times_out(self, backend: LocalSubprocessBackend):
        """A JavaScript await that never settles is stopped at the timeout."""
        program = "(async () => { await new Promise((resolve) => setTimeout(resolve, 3.6e6)); })();"
        started = time.monotonic()
        result = await run(backend, "javascript", program, timeout_ms=1000)
        assert time.monotonic() - started < 1.5
        assert result.termination == "timeout"

    async def test_output_before_the_timeout_is_kept(self, backend: LocalSubprocessBackend):
        """What the program printed before it was stopped is still returned."""
        program = "print('started', flush=True)\nwhile True: pass"
        result = await run(backend, "python", program, timeout_ms=500)
        assert (result.termination, result.stdout) == ("timeout", "started\n")

    @needs_namespaces
    @pytest.mark.parametrize("language", ["python", "javascript"])
    async def test_timeout_stderr_is_only_the_programs(
        self, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch, language: Language
    ):
        """A slow kill (as under CPU load, where the worker is preempted between killing the
        init and killing `unshare`) adds nothing of the wrapper's to the program's stderr."""
        backend = make_backend(prestart_python=0)
        kill_group = os.killpg

        def preempted(group: int, number: int) -> None:
            time.sleep(0.05)
            kill_group(group, number)

        monkeypatch.setattr(os, "killpg", preempted)
        program = {
            "python": "import sys\nprint('started', flush=True)\nwhile True: pass",
            "javascript": "console.log('started');\nwhile (true) {}",
        }[language]
        result = await run(backend, language, program, timeout_ms=700)
        assert (result.termination, result.stdout, result.stderr) == ("timeout", "started\n", "")

    @pytest.mark.parametrize(
        "options",
        [{}, {"use_cgroups": False}, {"isolate_processes": False}],
        ids=["default", "namespace-only", "cgroup-or-session-only"],
    )
    async def test_background_process_does_not_hold_the_result(
        self, make_backend: BackendFactory, options: dict[str, object]
    ):
        """A program that exits leaving a process on its pipes returns at once; that dies."""
        backend = make_backend(**options)
        marker = new_marker()
        program = (
            "import subprocess, sys\n"
            "code = 'import time; time.sleep(60)'\n"
            f"subprocess.Popen([sys.executable, '-c', code, '{marker}'], start_new_session=True)\n"
            "print('started')"
        )
        started = time.monotonic()
        result = await run(backend, "python", program, timeout_ms=30_000)
        assert time.monotonic() - started < 5
        assert (result.termination, result.exit_code) == ("exited", 0)
        assert marked(marker) == []

    @needs_namespaces
    async def test_daemon_left_behind_dies_with_the_namespace(self, make_backend: BackendFactory):
        """Without cgroups, a daemon (new session, cwd /) left by a program that returned
        normally dies when the program's namespace ends."""
        backend = make_backend(use_cgroups=False)
        marker = new_marker()
        program = (
            "import subprocess, sys\n"
            "code = \"import os, time; os.chdir('/'); time.sleep(60)\"\n"
            f"subprocess.Popen([sys.executable, '-c', code, '{marker}'], start_new_session=True,"
            " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        )
        result = await run(backend, "python", program)
        assert (result.termination, result.exit_code) == ("exited", 0)
        assert marked(marker) == []

    async def test_rlimit_mode_kills_the_session(self, make_backend: BackendFactory):
        """Without cgroups or the namespace, the timeout still kills the grandchildren."""
        backend = make_backend(use_cgroups=False, isolate_processes=False)
        marker = new_marker()
        result = await run(backend, "python", GRANDCHILD.format(marker=marker), timeout_ms=1000)
        assert (result.termination, result.stdout) == ("timeout", "started\n")
        assert marked(marker) == []


class TestOutputCap:
    """Output past the cap is drained and dropped, flagged and marked."""

    async def test_flood_is_truncated_with_bounded_memory(self, backend: LocalSubprocessBackend):
        """200 MB printed keeps 1 MiB plus a marker, and the host's peak memory barely moves."""
        program = (
            "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(200): sys.stdout.write(chunk)"
        )
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = await run(backend, "python", program)
        peak_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
        assert result.exit_code == 0
        assert result.stdout_truncated is True
        assert result.stdout.endswith("\n[turnout: stdout truncated at 1048576 bytes]")
        assert result.stdout.count("x") == 1 << 20
        assert peak_growth_kib < 64 * 1024

    async def test_stderr_cap_is_configurable(self, make_backend: BackendFactory):
        """output_cap_bytes caps stderr too, and stdout under the cap is untouched."""
        backend = make_backend(output_cap_bytes=1024)
        program = "import sys; print('ok'); sys.stderr.write('e' * 5000)"
        result = await run(backend, "python", program)
        assert (result.stdout, result.stdout_truncated) == ("ok\n", False)
        assert result.stderr_truncated is True
        assert result.stderr == "e" * 1024 + "\n[turnout: stderr truncated at 1024 bytes]"


class TestMemory:
    """Memory is bounded, and running out is reported rather than crashing the host."""

    async def test_python_large_allocation_fails_in_the_program(self, make_backend: BackendFactory):
        """Allocating 2 GB under a 256 MB cap raises MemoryError, reported by the exit."""
        backend = make_backend(memory_mb=256)
        result = await run(backend, "python", "data = bytearray(2 * 1024**3)")
        assert result.termination in ("exited", "memory")
        if result.termination == "exited":
            assert result.exit_code != 0
            assert "MemoryError" in result.stderr

    async def test_node_heap_exhaustion_is_memory(self, make_backend: BackendFactory):
        """Node growing its heap far past the cap ends with termination `memory`."""
        backend = make_backend(memory_mb=256)
        program = "const keep = []; while (true) keep.push(new Array(100000).fill(1.5));"
        result = await run(backend, "javascript", program)
        assert (result.termination, result.exit_code) == ("memory", None)

    async def test_node_buffers_are_bounded(self, make_backend: BackendFactory):
        """Buffers (outside the V8 heap) cannot grow past the cap either."""
        backend = make_backend(memory_mb=256)
        program = "const keep = []; while (true) keep.push(Buffer.alloc(32 * 1024 * 1024, 1));"
        result = await run(backend, "javascript", program)
        assert result.termination in ("exited", "memory")
        assert result.exit_code != 0

    async def test_memory_rlimit_is_on_the_interpreter(self, make_backend: BackendFactory):
        """Python runs under RLIMIT_AS and Node under RLIMIT_DATA (never RLIMIT_AS), both
        at memory_mb, hard and soft."""
        backend = make_backend(memory_mb=256)
        python = await run(
            backend,
            "python",
            "import resource as r; print(r.getrlimit(r.RLIMIT_AS), r.getrlimit(r.RLIMIT_CORE))",
        )
        assert python.stdout == f"({256 << 20}, {256 << 20}) (0, 0)\n"
        node = await run(
            backend,
            "javascript",
            "const l = require('fs').readFileSync('/proc/self/limits', 'utf8').split('\\n');\n"
            "console.log(l.filter((x) => /^Max (data size|address space)/.test(x))"
            ".map((x) => x.split(/\\s{2,}/).slice(1, 3).join(' ')).join('; '));",
        )
        assert node.stdout == f"{256 << 20} {256 << 20}; unlimited unlimited\n"

    @needs_cgroups
    async def test_cgroup_oom_kill_is_memory(self, make_backend: BackendFactory):
        """Processes that together exceed the cgroup limit end the run as `memory`."""
        backend = make_backend(memory_mb=256)
        program = (
            "import subprocess, sys\n"
            "hog = b'x' * (180 << 20)\n"
            "code = 'import time; more = b\"y\" * (120 << 20); time.sleep(60)'\n"
            "subprocess.run([sys.executable, '-c', code])\n"
        )
        result = await run(backend, "python", program)
        assert (result.termination, result.exit_code) == ("memory", None)


class TestKilledIsAnError:
    """A program turnout stopped has no result, even one written before the kill: the
    engine takes a result as the truth, and the envelope must agree with the kill."""

    async def test_a_result_written_before_a_memory_kill_is_dropped(
        self, make_backend: BackendFactory
    ):
        """1 GiB of console.log, then `return 'done'`: the runtime writes the outcome, then
        Node dies for memory while its queued output drains. The execution is a memory
        error, not "done" with the first MiB of stdout."""
        backend = make_backend(memory_mb=256)
        program = (
            "const chunk = 'x'.repeat(1 << 20);\n"
            "for (let i = 0; i < 1024; i++) console.log(chunk);\n"
            "return 'done';"
        )
        result = await backend.execute(node_request("javascript", program, timeout_ms=60_000))
        assert (result.termination, result.result) == ("memory", None)
        with pytest.raises(CodeExecutionError) as caught:
            decode_node(result, "javascript")
        assert caught.value.kind == "memory"

    async def test_a_result_written_before_a_timeout_is_dropped(
        self, backend: LocalSubprocessBackend
    ):
        """An exit hook that never returns keeps Node alive after the outcome is written:
        the execution is a timeout, as the kill says."""
        program = "process.on('exit', () => { while (true) {} });\nreturn 'done';"
        result = await backend.execute(node_request("javascript", program, timeout_ms=1000))
        assert (result.termination, result.result) == ("timeout", None)
        with pytest.raises(CodeExecutionError) as caught:
            decode_node(result, "javascript")
        assert caught.value.kind == "timeout"


class TestCancellation:
    """Cancelling an execution kills the program, cleans up and re-raises."""

    async def test_cancel_kills_and_cleans_up(self, backend: LocalSubprocessBackend):
        """The program, its child and its working directory are gone after the cancellation."""
        marker = new_marker()
        program = (
            "import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'])\n"
            "time.sleep(60)"
        )
        task = asyncio.create_task(run(backend, "python", program, timeout_ms=30_000))
        child = await _first_marked(marker)
        program_process = child.parent()
        workdir = program_process.cwd()
        assert Path(workdir).name == "work"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not alive(program_process.pid)
        assert marked(marker) == []
        assert not exists(workdir)


class TestConcurrency:
    """Executions beyond max_concurrency wait for a slot."""

    async def test_slots_bound_parallel_runs(self, make_backend: BackendFactory):
        """With one slot, two executions never overlap."""
        backend = make_backend(max_concurrency=1)
        program = "import time; a = time.time(); time.sleep(0.2); print(a, time.time())"
        results = await asyncio.gather(*(run(backend, "python", program) for _ in range(2)))
        (start_1, end_1), (start_2, end_2) = (map(float, r.stdout.split()) for r in results)
        assert end_1 <= start_2 or end_2 <= start_1


class TestConstruction:
    """Loading the backend: deprecation, the legacy flag, options, capabilities."""

    def test_construction_warns_deprecated(self):
        """Constructing emits LegacyBackendDeprecationWarning, a DeprecationWarning."""
        with pytest.warns(LegacyBackendDeprecationWarning, match="deprecated"):
            LocalSubprocessBackend(BackendSettings(environment="staging"))
        assert issubclass(LegacyBackendDeprecationWarning, DeprecationWarning)

    def test_construction_logs_a_warning_event(self):
        """Constructing logs a structured `legacy_backend_loaded` warning with the environment."""
        with capture_logs() as logs, warnings.catch_warnings():
            warnings.simplefilter("ignore", LegacyBackendDeprecationWarning)
            LocalSubprocessBackend(BackendSettings(environment="staging"))
        (event,) = [log for log in logs if log["event"] == "legacy_backend_loaded"]
        assert (event["log_level"], event["environment"]) == ("warning", "staging")

    def test_legacy_disallowed_refuses(self):
        """legacy_allowed=False refuses with a message naming the environment and the flag."""
        settings = BackendSettings(environment="production", legacy_allowed=False)
        with pytest.raises(ConfigurationError) as caught:
            LocalSubprocessBackend(settings)
        message = caught.value.message
        assert "'production'" in message
        assert "legacy_allowed = false" in message
        assert "feature_flags.toml" in message
        assert "e2b" in message

    def test_max_concurrency_is_declared_as_the_protocol_says(self):
        """The option is exposed as the protocol's optional `max_concurrency` member."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LegacyBackendDeprecationWarning)
            backend = LocalSubprocessBackend(BackendSettings(options={"max_concurrency": 3}))
        assert declared_max_concurrency(backend) == 3

    def test_misspelt_option_is_rejected(self):
        """An unknown option such as `memroy_mb` is a ConfigurationError naming it."""
        with pytest.raises(ConfigurationError, match="memroy_mb"):
            LocalSubprocessBackend(BackendSettings(options={"memroy_mb": 256}))

    def test_capabilities_are_honest(self, make_backend: BackendFactory):
        """Capabilities declare process isolation, open network and the configured caps."""
        capabilities = make_backend(memory_mb=300, output_cap_bytes=4096).capabilities
        assert capabilities.languages == {"python", "javascript"}
        assert (capabilities.isolation, capabilities.network_access) == ("process", True)
        assert (capabilities.max_timeout_ms, capabilities.max_output_bytes) == (300_000, 4096)
        assert (capabilities.memory_limit_mb, capabilities.max_result_bytes) == (300, 64 << 20)
        assert capabilities.supports_typescript is False

    @needs_namespaces
    def test_namespace_capabilities(self, make_backend: BackendFactory):
        """With the namespace (auto, here) the host environment and a shared /tmp are
        out of reach, and the capabilities say so."""
        capabilities = make_backend().capabilities
        assert capabilities.host_environment_visible is False
        assert capabilities.persistent_filesystem is False

    def test_without_namespace_capabilities_admit_it(self, make_backend: BackendFactory):
        """isolate_processes = false: the worker's environment is readable through /proc,
        /tmp is shared and code runs as the worker's user, so the capabilities say so."""
        capabilities = make_backend(isolate_processes=False).capabilities
        assert capabilities.host_environment_visible is True
        assert capabilities.persistent_filesystem is True
        assert capabilities.code_runs_as_worker_user is True

    @needs_namespaces
    def test_without_the_drop_code_runs_as_the_worker(self, make_backend: BackendFactory):
        """drop_privileges = false keeps the namespace but not the identity, and says so."""
        backend = make_backend(drop_privileges=False)
        assert backend.capabilities.host_environment_visible is False
        assert backend.capabilities.code_runs_as_worker_user is True

    def test_required_drop_without_namespace_refuses(self):
        """drop_privileges = true with isolate_processes = false is a ConfigurationError
        naming both options."""
        options = {"drop_privileges": True, "isolate_processes": False}
        with pytest.raises(ConfigurationError, match=r"drop_privileges.*isolate_processes"):
            LocalSubprocessBackend(BackendSettings(options=options))

    def test_required_drop_missing_refuses(self, monkeypatch: pytest.MonkeyPatch):
        """drop_privileges = true where the worker cannot switch uid is a ConfigurationError
        that says why."""
        monkeypatch.setattr(
            "turnout_local_subprocess.isolation.find_identity",
            lambda uid, gid: (None, "the worker does not run as root"),
        )
        with pytest.raises(ConfigurationError, match=r"drop_privileges.*not run as root"):
            LocalSubprocessBackend(BackendSettings(options={"drop_privileges": True}))

    @needs_namespaces
    def test_auto_without_the_drop_falls_back_and_says_so(
        self, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch
    ):
        """drop_privileges = "auto" where the worker cannot switch uid (not root) keeps
        today's behaviour, logs why, and the capability says code runs as the worker."""
        monkeypatch.setattr(
            "turnout_local_subprocess.isolation.find_identity",
            lambda uid, gid: (None, "the worker does not run as root"),
        )
        with capture_logs() as logs:
            backend = make_backend()
        assert backend.capabilities.code_runs_as_worker_user is True
        (event,) = [log for log in logs if log["event"] == "privilege_drop_unavailable"]
        assert event["reason"] == "the worker does not run as root"
        (loaded,) = [log for log in logs if log["event"] == "legacy_backend_loaded"]
        assert (loaded["process_isolation"], loaded["code_user"]) == ("namespace", "worker")

    def test_required_namespace_missing_refuses(self, monkeypatch: pytest.MonkeyPatch):
        """isolate_processes = true where namespaces do not work is a ConfigurationError
        that says why."""
        monkeypatch.setattr(
            "turnout_local_subprocess.isolation.find", lambda: (None, "unshare: not permitted")
        )
        with pytest.raises(ConfigurationError, match=r"isolate_processes.*unshare: not permitted"):
            LocalSubprocessBackend(BackendSettings(options={"isolate_processes": True}))

    def test_auto_without_namespace_falls_back_and_says_so(
        self, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch
    ):
        """isolate_processes = "auto" where namespaces do not work loads without them, logs
        why, and reports the host environment as visible."""
        monkeypatch.setattr(
            "turnout_local_subprocess.isolation.find", lambda: (None, "unshare: not permitted")
        )
        with capture_logs() as logs:
            backend = make_backend()
        assert backend.capabilities.host_environment_visible is True
        (event,) = [log for log in logs if log["event"] == "process_isolation_unavailable"]
        assert event["reason"] == "unshare: not permitted"
        (loaded,) = [log for log in logs if log["event"] == "legacy_backend_loaded"]
        assert loaded["process_isolation"] == "none"

    def test_worker_is_made_undumpable(self, make_backend: BackendFactory):
        """By default the worker process is marked not dumpable (PR_GET_DUMPABLE is 0)."""
        make_backend()
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE

    @needs_cgroups
    def test_cgroup_enforcement_is_reported(self, make_backend: BackendFactory):
        """Where cgroups are usable, memory enforcement is reported as `cgroup`."""
        assert make_backend().capabilities.memory_enforcement == "cgroup"

    def test_rlimit_enforcement_is_reported(self, make_backend: BackendFactory):
        """With use_cgroups = false, memory enforcement is reported as `rlimit`."""
        assert make_backend(use_cgroups=False).capabilities.memory_enforcement == "rlimit"

    def test_required_cgroups_missing_refuses(self, monkeypatch: pytest.MonkeyPatch):
        """use_cgroups = true on a host without cgroups is a ConfigurationError."""
        monkeypatch.setattr("turnout_local_subprocess.cgroups.probe", lambda: None)
        with pytest.raises(ConfigurationError, match="use_cgroups"):
            LocalSubprocessBackend(BackendSettings(options={"use_cgroups": True}))

    def test_instance_satisfies_the_protocol(self, backend: LocalSubprocessBackend):
        """The backend is an ExecutionBackend with the expected class attributes."""
        assert isinstance(backend, ExecutionBackend)
        assert (LocalSubprocessBackend.id, LocalSubprocessBackend.deprecated) == (
            "local-subprocess",
            True,
        )
        assert "DEPRECATED" in LocalSubprocessBackend.description


class TestCleanup:
    """After the run: what is left is reported by name, and the call does not wait long."""

    @pytest.mark.timing
    async def test_survivors_are_reported_as_such(
        self, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch
    ):
        """Processes that outlive the kill are `processes_survived`; in rlimit mode there
        is no cgroup, so no `cgroup_not_removed`. The call returns within its budget and
        the rest of the clean-up finishes in the background."""
        backend = make_backend(use_cgroups=False)
        monkeypatch.setattr(Confinement, "kill_all", lambda self: False)
        monkeypatch.setattr("turnout_local_subprocess.limits.RELEASE_TIMEOUT_S", 0.5)
        with capture_logs() as logs:
            started = time.monotonic()
            result = await run(backend, "python", "pass")
            returned = time.monotonic() - started
            await backend.aclose()
        events = [log["event"] for log in logs]
        assert result.exit_code == 0
        assert returned < result.timings_ms["run"] / 1000 + 0.4
        assert "processes_survived" in events
        assert "cgroup_not_removed" not in events
        assert "workdir_not_removed" not in events

    @needs_cgroups
    async def test_undeletable_cgroup_is_reported_as_such(
        self, make_backend: BackendFactory, monkeypatch: pytest.MonkeyPatch
    ):
        """A jail whose members are all gone but which cannot be removed is
        `cgroup_not_removed`, not `processes_survived` (one execution's cgroup: no spare)."""
        backend = make_backend(prestart_python=0)
        monkeypatch.setattr("turnout_local_subprocess.limits.RELEASE_TIMEOUT_S", 0.05)
        monkeypatch.setattr(Jail, "remove_empty", lambda self: False)
        with capture_logs() as logs:
            await run(backend, "python", "pass")
            await backend.aclose()
        monkeypatch.undo()
        assert [log for log in logs if log["event"] == "processes_survived"] == []
        (event,) = [log for log in logs if log["event"] == "cgroup_not_removed"]
        host = probe_cgroups()
        assert host is not None
        left = [parent / event["cgroup"] for parent in (host.memory, host.pids) if parent]
        assert left[0].is_dir()
        for directory in left:
            with contextlib.suppress(FileNotFoundError):
                directory.rmdir()


class TestInterpreters:
    """A missing interpreter is a configuration error at execute time, for its language only."""

    async def test_missing_node_names_the_option(self, make_backend: BackendFactory):
        """JavaScript without Node raises ConfigurationError naming the `node` option."""
        backend = make_backend(node="/nonexistent/node")
        with pytest.raises(ConfigurationError, match="'node' option"):
            await run(backend, "javascript", "1")

    async def test_python_runs_without_node(self, make_backend: BackendFactory):
        """A backend whose Node is missing still constructs and runs Python."""
        backend = make_backend(node="/nonexistent/node")
        assert (await run(backend, "python", "print(1)")).stdout == "1\n"

    async def test_missing_python_names_the_option(self, make_backend: BackendFactory):
        """Python without an interpreter raises ConfigurationError naming the `python` option."""
        backend = make_backend(python="no-such-python-interpreter")
        with pytest.raises(ConfigurationError, match="'python' option"):
            await run(backend, "python", "pass")

    async def test_unstartable_interpreter_is_infrastructure(
        self, make_backend: BackendFactory, tmp_path: Path
    ):
        """An interpreter that exists but cannot be executed is an InfrastructureError."""
        broken = tmp_path / "python3"
        broken.write_text("#!/nonexistent/interpreter\n")
        broken.chmod(0o755)
        backend = make_backend(python=str(broken))
        with pytest.raises(InfrastructureError) as caught:
            await run(backend, "python", "pass")
        assert caught.value.started is False

    @needs_namespaces
    async def test_an_interpreter_that_fails_to_exec_is_infrastructure(
        self, make_backend: BackendFactory
    ):
        """An interpreter that cannot be executed inside the namespace (here: gone since it
        was found) is checked by starting it again, and reported as an InfrastructureError
        with started=False carrying what the exec said."""
        backend = make_backend(prestart_python=0, node="node")
        assert (await run(backend, "javascript", "1")).exit_code == 0
        backend._interpreters.paths["javascript"] = "/nonexistent/node"
        with pytest.raises(InfrastructureError, match="No such file") as caught:
            await run(backend, "javascript", "console.log('ran')")
        assert caught.value.started is False


class TestPrelude:
    """Every program starts through a shell prelude (it enters the jail and sets the rlimits,
    then execs the program); a prelude that fails is infrastructure, never the code's."""

    @pytest.fixture(params=["auto", False], ids=["namespace", "no-namespace"])
    def either(self, request: pytest.FixtureRequest, make_backend: BackendFactory):
        return make_backend(isolate_processes=request.param, prestart_python=0)

    async def test_a_jail_that_cannot_be_entered_is_infrastructure(
        self, either: LocalSubprocessBackend, monkeypatch: pytest.MonkeyPatch
    ):
        """A cgroup file the prelude cannot write (here /proc/version) stops the start: an
        InfrastructureError with started=False that says what it could not enter."""
        original = Confinement.prelude

        def unwritable(self: Confinement) -> list[str]:
            argv = original(self)
            return [*argv[:4], "/proc/version", *argv[4:]]

        monkeypatch.setattr(Confinement, "prelude", unwritable)
        with pytest.raises(InfrastructureError, match="could not enter the cgroup") as caught:
            await run(either, "python", "print('ran')")
        assert caught.value.started is False

    async def test_an_exit_status_126_of_the_code_is_its_own(self, either: LocalSubprocessBackend):
        """Code that exits 126 (what a failed exec exits) is the code's exit: the interpreter
        check starts it again, finds it fine, and reports the program's status."""
        result = await run(either, "python", "import os; os._exit(126)")
        assert (result.termination, result.exit_code) == ("exited", 126)

    async def test_an_unstartable_interpreter_is_infrastructure_without_namespaces(
        self, make_backend: BackendFactory, tmp_path: Path
    ):
        """Without namespaces too, an interpreter that cannot be executed (the prelude's exec
        fails) is an InfrastructureError with started=False."""
        broken = tmp_path / "python3"
        broken.write_text("#!/nonexistent/interpreter\n")
        broken.chmod(0o755)
        backend = make_backend(python=str(broken), isolate_processes=False, prestart_python=0)
        with pytest.raises(InfrastructureError) as caught:
            await run(backend, "python", "pass")
        assert caught.value.started is False


class TestClose:
    """aclose() is idempotent and stops new executions."""

    async def test_aclose_twice(self, backend: LocalSubprocessBackend):
        """Closing twice is harmless."""
        await backend.aclose()
        await backend.aclose()

    @pytest.mark.parametrize("language", ["python", "javascript"])
    async def test_an_execution_in_flight_finishes_with_its_result(
        self, make_backend: BackendFactory, language: Language
    ):
        """aclose() during an execution lets it finish as it would have: the interpreter
        it runs (with the standard library it imports late) is taken away only once it
        has ended."""
        backend = make_backend(python=None)
        code = (
            "import time\ntime.sleep(1)\nimport json\nprint(json.loads('\"done\"'))"
            if language == "python"
            else "setTimeout(() => console.log('done'), 1000)"
        )
        running = asyncio.create_task(run(backend, language, code, timeout_ms=10_000))
        await asyncio.sleep(0.5)
        await backend.aclose()
        result = await running
        assert (result.termination, result.exit_code, result.stdout) == ("exited", 0, "done\n")

    async def test_execute_after_close_refuses(self, backend: LocalSubprocessBackend):
        """A closed backend raises a non-retryable InfrastructureError instead of running."""
        await backend.aclose()
        with pytest.raises(InfrastructureError) as caught:
            await backend.execute(request("python", "pass"))
        assert caught.value.retryable is False


def node_request(language: Language, code: str, *, timeout_ms: int) -> ExecutionRequest:
    """The request the engine sends for a code node with `code` (turnout's runtime included)."""
    config = CodeNodeConfig(language=language, code=code, timeout=timeout_ms)
    return prepare_request(config, {}, execution_id="test", max_result_bytes=1 << 20)


def decode_node(result: ExecutionResult, language: Language) -> object:
    """The node's output as the engine decodes `result` (or the error it raises)."""
    return decode_result(
        result,
        language=language,
        timeout_ms=10_000,
        max_result_bytes=1 << 20,
        backend="local-subprocess",
    ).value


async def _first_marked(marker: str, timeout_s: float = 10.0) -> psutil.Process:
    """Wait for the host process with `marker` in its command line to appear."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = marked(marker)
        if found:
            return found[0]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no process with {marker} appeared")


#: What Node 20 wrote to stderr (abridged) when a console.log flood queued more output than
#: RLIMIT_DATA allowed: an abort (exit 134) outside the V8 heap.
V8_PROCESS_OOM = (
    "\n<--- Last few GCs --->\n\n[3:0x12616cc0]      536 ms: Mark-Compact (reduce) 31.9 (34.7)"
    " -> 31.9 (33.7) MB, 92.84 / 0.00 ms  external memory pressure\n\n"
    "FATAL ERROR: v8::ArrayBuffer::NewBackingStore Allocation failed - process out of memory\n"
    "----- Native stack trace -----\n\n 1: 0xb8ced1 node::OOMErrorHandler("
    "char const*, v8::OOMDetails const&) [/usr/bin/node]\n"
)


class TestV8AbortClassification:
    async def test_a_process_out_of_memory_abort_is_memory(self) -> None:
        """V8's "process out of memory" abort (memory outside its heap) ends as `memory`."""
        from turnout_local_subprocess.capture import CappedSink
        from turnout_local_subprocess.ending import classify
        from turnout_local_subprocess.process import RunOutcome

        stderr = CappedSink("stderr", 1 << 20)
        stderr.data_received(V8_PROCESS_OOM.encode())
        outcome = RunOutcome(134, False, CappedSink("stdout", 1 << 20), stderr, 1.0, 400.0)
        assert classify(outcome, None, "javascript", False) == ("memory", None)

    async def test_a_flood_that_aborts_node_is_memory_not_runtime(
        self, make_backend: BackendFactory
    ) -> None:
        """256 MB of console.log under a 256 MB limit: a clean exit or `memory`, never a
        runtime error (exit 134) as before."""
        backend = make_backend(memory_mb=256)
        program = (
            "const line = 'x'.repeat(1023);\nfor (let i = 0; i < 262144; i++) console.log(line);"
        )
        result = await run(backend, "javascript", program, timeout_ms=20_000)
        assert (result.termination, result.exit_code) in (("memory", None), ("exited", 0))
