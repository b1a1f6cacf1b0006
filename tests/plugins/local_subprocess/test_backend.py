from __future__ import annotations

import asyncio
import json
import os
import resource
import time
import uuid
import warnings
from pathlib import Path

import pytest
import structlog
from turnout_local_subprocess import LegacyBackendDeprecationWarning, LocalSubprocessBackend

from turnout.backend import BackendSettings, ExecutionBackend
from turnout.errors import ConfigurationError, InfrastructureError

from .support import BackendFactory, alive, exists, needs_cgroups, pids_in, request, run

ALLOWED_VARIABLES = {"PATH", "LANG", "LC_ALL", "HOME", "TZ"}

GRANDCHILD = """
import subprocess, sys, time
code = "import os, time; print(os.getpid(), flush=True); time.sleep(60)"
subprocess.Popen([sys.executable, "-c", code])
while True:
    time.sleep(0.05)
"""

ESCAPING_GRANDCHILD = """
import subprocess, sys, time
code = (
    "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print(os.getpid(), flush=True); time.sleep(60)"
)
subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
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

    async def test_signal_death_is_killed(self, backend: LocalSubprocessBackend):
        """A program killed by a signal reports `killed` and 128 + the signal number."""
        result = await run(backend, "python", "import os, signal; os.kill(os.getpid(), 9)")
        assert (result.termination, result.exit_code) == ("killed", 137)


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


class TestTimeout:
    """At the wall-clock bound everything the program started is killed, promptly."""

    async def test_busy_loop_times_out_within_bound(self, backend: LocalSubprocessBackend):
        """`while True: pass` with a 1000 ms timeout returns `timeout` within 1.5 s."""
        started = time.monotonic()
        result = await run(backend, "python", "while True: pass", timeout_ms=1000)
        assert time.monotonic() - started < 1.5
        assert (result.termination, result.exit_code) == ("timeout", None)

    async def test_grandchild_is_killed(self, backend: LocalSubprocessBackend):
        """A process the program started dies with it at the timeout."""
        started = time.monotonic()
        result = await run(backend, "python", GRANDCHILD, timeout_ms=1000)
        assert time.monotonic() - started < 1.5
        assert result.termination == "timeout"
        (grandchild,) = pids_in(result.stdout)
        assert not alive(grandchild)

    @needs_cgroups
    async def test_escaped_grandchild_is_killed(self, backend: LocalSubprocessBackend):
        """A grandchild in its own session that ignores SIGTERM is killed through the cgroup."""
        started = time.monotonic()
        result = await run(backend, "python", ESCAPING_GRANDCHILD, timeout_ms=1000)
        assert time.monotonic() - started < 1.5
        assert result.termination == "timeout"
        (grandchild,) = pids_in(result.stdout)
        assert not alive(grandchild)

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

    async def test_background_process_does_not_hold_the_result(
        self, backend: LocalSubprocessBackend
    ):
        """A program that exits leaving a process on its pipes returns at once; that dies."""
        program = (
            "import subprocess, sys\n"
            "code = 'import time; time.sleep(60)'\n"
            "child = subprocess.Popen([sys.executable, '-c', code], start_new_session=True)\n"
            "print(child.pid)"
        )
        started = time.monotonic()
        result = await run(backend, "python", program, timeout_ms=30_000)
        assert time.monotonic() - started < 5
        assert (result.termination, result.exit_code) == ("exited", 0)
        (background,) = pids_in(result.stdout)
        assert not alive(background)

    async def test_rlimit_mode_kills_the_session(self, make_backend: BackendFactory):
        """Without cgroups, the timeout still kills the program's grandchildren."""
        backend = make_backend(use_cgroups=False)
        result = await run(backend, "python", GRANDCHILD, timeout_ms=1000)
        assert result.termination == "timeout"
        (grandchild,) = pids_in(result.stdout)
        assert not alive(grandchild)


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


class TestCancellation:
    """Cancelling an execution kills the program, cleans up and re-raises."""

    async def test_cancel_kills_and_cleans_up(
        self, backend: LocalSubprocessBackend, tmp_path: Path
    ):
        """The program's process and working directory are gone after the cancellation."""
        marker = tmp_path / "started"
        program = (
            "import os, time\n"
            f"open({str(marker)!r}, 'w').write(f'{{os.getpid()}} {{os.getcwd()}}')\n"
            "time.sleep(60)"
        )
        task = asyncio.create_task(run(backend, "python", program, timeout_ms=30_000))
        for _ in range(500):
            if marker.exists() and marker.read_text():
                break
            await asyncio.sleep(0.01)
        pid, workdir = marker.read_text().split(" ", 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not alive(int(pid))
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
        with structlog.testing.capture_logs() as logs, warnings.catch_warnings():
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
        assert capabilities.host_environment_visible is False
        assert capabilities.supports_typescript is False

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


class TestClose:
    """aclose() is idempotent and stops new executions."""

    async def test_aclose_twice(self, backend: LocalSubprocessBackend):
        """Closing twice is harmless."""
        await backend.aclose()
        await backend.aclose()

    async def test_execute_after_close_refuses(self, backend: LocalSubprocessBackend):
        """A closed backend raises a non-retryable InfrastructureError instead of running."""
        await backend.aclose()
        with pytest.raises(InfrastructureError) as caught:
            await backend.execute(request("python", "pass"))
        assert caught.value.retryable is False
