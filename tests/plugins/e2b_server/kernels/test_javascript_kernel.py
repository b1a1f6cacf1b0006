"""The JavaScript/TypeScript kernel of the local E2B-compatible server behaves like E2B's."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import psutil
import pytest
from turnout_e2b_server.kernels import javascript
from turnout_e2b_server.kernels.base import Kernel, KernelError
from turnout_e2b_server.kernels.javascript import start_javascript_kernel

from turnout.contract import prepare_request
from turnout.models import parse_config

Events = list[dict[str, Any]]


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """A small environment, as the server's pool would pass it."""
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BASE_ONLY": "base"}


@pytest.fixture
async def kernel(tmp_path: Path, base_env: dict[str, str]) -> AsyncIterator[Kernel]:
    """A started kernel in a neutral directory; shut down after the test."""
    neutral = tmp_path / "neutral"
    neutral.mkdir()
    started = await start_javascript_kernel("javascript", neutral_cwd=neutral, base_env=base_env)
    yield started
    await started.shutdown()


async def run(
    kernel: Kernel,
    code: str,
    *,
    env_vars: Mapping[str, str] | None = None,
    language: str | None = "js",
) -> Events:
    """Run one cell and return its events."""
    events: Events = []

    async def emit(event: dict[str, Any]) -> None:
        events.append(event)

    await kernel.execute(code, emit, env_vars=env_vars, language=language)
    return events


async def result_of(kernel: Kernel, code: str, **options: Any) -> str:
    """The text of the cell's only event, which must be its result."""
    events = await run(kernel, code, **options)
    assert [event["type"] for event in events] == ["result"], events
    return str(events[0]["text"])


def single_error(events: Events) -> dict[str, Any]:
    """The cell's only event, which must be an error."""
    assert [event["type"] for event in events] == ["error"], events
    return events[0]


def touch(path: Path) -> str:
    """JavaScript that creates `path`, to tell the test that a timer has run."""
    return f"require('fs').writeFileSync({json.dumps(str(path))}, '')"


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait up to 5 seconds for `condition` to hold."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition did not hold within 5 seconds")


def dead(process: psutil.Process) -> bool:
    """Whether `process` has ended (a zombie awaiting its reaper counts as ended)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def start_interrupted(kernel: Kernel, code: str) -> Events:
    """Run `code`, interrupt it once it is running, and return its events."""
    cell = asyncio.create_task(run(kernel, code))
    await asyncio.sleep(0.3)
    assert not cell.done()
    await kernel.interrupt()
    return await asyncio.wait_for(cell, timeout=5)


class TestResults:
    """The last expression's value is reported the way E2B renders it."""

    async def test_last_expression_is_the_main_result(self, kernel: Kernel) -> None:
        """The completion value is a main result rendered by util.inspect, without `json`."""
        events = await run(kernel, "const a = 20\na * 2 + 2")
        assert events == [{"type": "result", "text": "42", "is_main_result": True}]

    async def test_objects_render_with_util_inspect(self, kernel: Kernel) -> None:
        """An object is shown as util.inspect shows it."""
        assert (
            await result_of(kernel, "({a: 1, b: 'x', c: [1, 2]})")
            == "{ a: 1, b: 'x', c: [ 1, 2 ] }"
        )

    async def test_string_loses_one_pair_of_quotes(self, kernel: Kernel) -> None:
        """A string's inspected quotes are stripped once, as E2B's server does."""
        assert await result_of(kernel, "'it\\'s'") == "it's"

    async def test_long_string_is_truncated_like_util_inspect(self, kernel: Kernel) -> None:
        """Strings over 10,000 characters are cut by util.inspect and keep their quotes."""
        text = await result_of(kernel, "'a'.repeat(10005)")
        assert text == "'" + "a" * 10000 + "'... 5 more characters"

    async def test_undefined_gives_no_result(self, kernel: Kernel) -> None:
        """A cell whose value is undefined reports nothing."""
        assert await run(kernel, "let unused = 1\nundefined") == []

    async def test_null_is_a_result(self, kernel: Kernel) -> None:
        """null, unlike undefined, is shown."""
        assert await result_of(kernel, "null") == "null"

    async def test_promise_is_awaited(self, kernel: Kernel) -> None:
        """A Promise completion value is reported as what it resolves to."""
        code = "new Promise((resolve) => setTimeout(() => resolve({done: true}), 20))"
        assert await result_of(kernel, code) == "{ done: true }"


class TestOutput:
    """console and process streams become stdout and stderr events."""

    async def test_console_log_formats_and_adds_a_newline(self, kernel: Kernel) -> None:
        """console.log follows util.format and ends the line."""
        events = await run(kernel, "console.log('%s=%d', 'n', 7, {k: 1})")
        assert events == [{"type": "stdout", "text": "n=7 { k: 1 }\n"}]

    async def test_process_stdout_write_is_verbatim(self, kernel: Kernel) -> None:
        """process.stdout.write passes text through unchanged, non-ASCII included."""
        events = await run(kernel, "process.stdout.write('a ✓'); process.stdout.write('b\\n')")
        assert [event["text"] for event in events if event["type"] == "stdout"] == ["a ✓", "b\n"]

    async def test_error_and_warn_go_to_stderr(self, kernel: Kernel) -> None:
        """console.error, console.warn and process.stderr.write are stderr."""
        code = "console.error('e'); console.warn('w'); process.stderr.write('s'); console.info('i')"
        events = await run(kernel, code)
        assert [(event["type"], event["text"]) for event in events] == [
            ("stderr", "e\n"),
            ("stderr", "w\n"),
            ("stderr", "s"),
            ("stdout", "i\n"),
        ]

    async def test_heavy_output_arrives_complete_and_in_order(self, kernel: Kernel) -> None:
        """Many writes to a slow consumer all arrive, in order."""
        lines: list[str] = []

        async def slow_emit(event: dict[str, Any]) -> None:
            lines.append(event["text"])
            await asyncio.sleep(0)

        await kernel.execute("for (let i = 0; i < 5000; i++) console.log(i)", slow_emit)
        assert lines == [f"{i}\n" for i in range(5000)]

    async def test_output_of_an_ended_cell_is_dropped(self, kernel: Kernel, tmp_path: Path) -> None:
        """A timer that prints after its cell ended reaches no later cell."""
        flag = tmp_path / "printed"
        code = f"setTimeout(() => {{ console.log('late'); {touch(flag)} }}, 10); 0"
        await run(kernel, code)
        await eventually(flag.exists)
        assert await result_of(kernel, "'next'") == "next"


class TestTopLevelAwait:
    """Top-level await works like E2B's Babel transform."""

    async def test_result_after_await(self, kernel: Kernel) -> None:
        """The last expression after an await is the result."""
        code = "const x = await Promise.resolve(40)\nconst y = await Promise.resolve(2)\nx + y"
        assert await result_of(kernel, code) == "42"

    async def test_declarations_after_await_stay_visible(self, kernel: Kernel) -> None:
        """let, const, var, destructuring, class and function declared after an await persist."""
        code = (
            "await null\nlet a = 1; const {b, c: [d]} = {b: 2, c: [3]}; var e = 4\n"
            "class K { get v() { return 5 } }\nfunction f() { return 6 }"
        )
        assert await run(kernel, code) == []
        assert await result_of(kernel, "a + b + d + e + new K().v + f()") == "21"

    async def test_assignment_after_await_gives_no_result(self, kernel: Kernel) -> None:
        """As in E2B's transform, a final assignment is not returned."""
        assert await run(kernel, "let z\nz = await Promise.resolve(3)") == []
        assert await result_of(kernel, "z") == "3"


class TestState:
    """A kernel is one notebook session: cells share their globals."""

    async def test_declarations_persist_across_cells(self, kernel: Kernel) -> None:
        """let, const, var, function and class declared in one cell are visible in the next."""
        code = "let a = 1; const b = 2; var c = 3; function f() { return 4 }; class K {}"
        await run(kernel, code)
        assert await result_of(kernel, "[a, b, c, f(), typeof K]") == "[ 1, 2, 3, 4, 'function' ]"

    async def test_cells_run_one_at_a_time_in_order(self, kernel: Kernel) -> None:
        """Cells submitted together run in submission order, never interleaved."""
        slow = run(
            kernel, "await new Promise((r) => setTimeout(r, 100)); globalThis.order = ['slow']"
        )
        fast = run(kernel, "globalThis.order.push('fast'); order")
        _, events = await asyncio.gather(slow, fast)
        assert events[0]["text"] == "[ 'slow', 'fast' ]"


class TestTransforms:
    """Cells are TypeScript-stripped and their ESM imports become require calls."""

    async def test_typescript_types_are_stripped(self, kernel: Kernel) -> None:
        """Interfaces, annotations, generics and `as` casts disappear from a TS cell."""
        code = (
            "interface P { n: number }\n"
            "function twice<T>(x: T): T[] { return [x, x] }\n"
            "const p: P = { n: 2 } as P\n"
            "twice<number>(p.n)"
        )
        assert await result_of(kernel, code, language="ts") == "[ 2, 2 ]"

    async def test_imports_become_require(self, kernel: Kernel) -> None:
        """Default, named and namespace imports load the module with require."""
        code = (
            "import path from 'path'\nimport { join } from 'path'\nimport * as os from 'os'\n"
            "[path.join('a', 'b'), join('c', 'd'), typeof os.platform]"
        )
        assert (
            await result_of(kernel, code, language="javascript") == "[ 'a/b', 'c/d', 'function' ]"
        )


class TestRequire:
    """require works from cells like it does in E2B's kernel."""

    async def test_require_resolves_from_cwd_node_modules(
        self, kernel: Kernel, tmp_path: Path
    ) -> None:
        """A package in the working directory's node_modules can be required."""
        package = tmp_path / "work" / "node_modules" / "greet"
        package.mkdir(parents=True)
        (package / "index.js").write_text("module.exports = (n) => `hi ${n}`;\n")
        await kernel.adopt(str(tmp_path / "work"), {})
        assert await result_of(kernel, "require('greet')('there')") == "hi there"

    async def test_missing_module_is_an_error(self, kernel: Kernel) -> None:
        """Requiring an absent package fails with Node's MODULE_NOT_FOUND error."""
        error = single_error(await run(kernel, "require('surely-not-installed')"))
        assert error["name"] == "Error"
        assert error["value"].startswith("Cannot find module 'surely-not-installed'")


class TestErrors:
    """Errors are reported the way nel reports them."""

    async def test_thrown_error_has_name_message_and_traceback(self, kernel: Kernel) -> None:
        """A thrown Error gives its name, message and its stack lines joined with ""."""
        error = single_error(
            await run(kernel, "function boom() { throw new TypeError('bad') }\nboom()")
        )
        assert (error["name"], error["value"]) == ("TypeError", "bad")
        assert "TypeError: bad    at boom (evalmachine.<anonymous>:1:" in error["traceback"]
        assert "\n" not in error["traceback"]

    async def test_rejected_promise_is_an_error(self, kernel: Kernel) -> None:
        """An awaited Promise that rejects ends the cell with its error."""
        error = single_error(await run(kernel, "await Promise.reject(new RangeError('far'))"))
        assert (error["name"], error["value"]) == ("RangeError", "far")

    async def test_thrown_non_error_is_reported_like_nel(self, kernel: Kernel) -> None:
        """A thrown string has name `typeof value`, value util.inspect(value), no traceback."""
        error = single_error(await run(kernel, "throw 'oops'"))
        assert error == {"type": "error", "name": "string", "value": "'oops'", "traceback": ""}

    async def test_syntax_error_is_reported(self, kernel: Kernel) -> None:
        """Code that does not parse ends with a SyntaxError."""
        assert single_error(await run(kernel, "let = = 1"))["name"] == "SyntaxError"

    async def test_output_before_an_error_is_kept(self, kernel: Kernel) -> None:
        """stdout written before the failure arrives before the error."""
        events = await run(kernel, "console.log('first'); null.x")
        assert [event["type"] for event in events] == ["stdout", "error"]


class TestBackgroundFailures:
    """Failures outside a cell's own flow never kill the kernel."""

    async def test_timer_exception_after_the_cell_keeps_the_kernel(
        self, kernel: Kernel, tmp_path: Path
    ) -> None:
        """An exception thrown by a timer after its cell ended leaves the kernel running."""
        pid = kernel.pid
        flag = tmp_path / "thrown"
        code = (
            "globalThis.kept = 7\n"
            f"setTimeout(() => {{ {touch(flag)}; throw new Error('late') }}, 10); 0"
        )
        await run(kernel, code)
        await eventually(flag.exists)  # Node throws in the same tick, before the next cell
        assert await result_of(kernel, "kept") == "7"
        assert kernel.pid == pid

    async def test_unhandled_rejection_is_reported_on_stderr(self, kernel: Kernel) -> None:
        """An unhandled rejection during a cell is written to its stderr."""
        code = "Promise.reject(new Error('lost')); await new Promise((r) => setTimeout(r, 50)); 1"
        events = await run(kernel, code)
        assert events[0]["type"] == "stderr"
        assert events[0]["text"].startswith("Error: lost")
        assert events[-1]["text"] == "1"


class TestEnvironment:
    """The kernel's environment and working directory follow the server's calls."""

    async def test_kernel_starts_with_exactly_base_env(
        self, kernel: Kernel, base_env: dict[str, str]
    ) -> None:
        """The process environment is the base environment, nothing more."""
        names = json.loads(
            await result_of(kernel, "JSON.stringify(Object.keys(process.env).sort())")
        )
        assert names == sorted(base_env)

    async def test_env_vars_apply_to_one_cell(self, kernel: Kernel) -> None:
        """Per-cell env_vars are set for that cell and restored afterwards."""
        code = "[process.env.CELL_ONLY, process.env.BASE_ONLY]"
        env = {"CELL_ONLY": "yes", "BASE_ONLY": "changed"}
        assert await result_of(kernel, code, env_vars=env) == "[ 'yes', 'changed' ]"
        assert await result_of(kernel, code) == "[ undefined, 'base' ]"

    async def test_adopt_changes_cwd(self, kernel: Kernel, tmp_path: Path) -> None:
        """After adopt, the working directory is the sandbox's."""
        await kernel.adopt(str(tmp_path), {})
        assert await result_of(kernel, "process.cwd()") == str(tmp_path)

    async def test_adopt_sets_env_vars(self, kernel: Kernel, tmp_path: Path) -> None:
        """Variables given to adopt stay set for every later cell."""
        await kernel.adopt(str(tmp_path), {"SANDBOX_VAR": "v"})
        assert await result_of(kernel, "process.env.SANDBOX_VAR") == "v"

    async def test_adopt_of_missing_directory_fails(self, kernel: Kernel, tmp_path: Path) -> None:
        """Adopting a directory that does not exist raises KernelError."""
        with pytest.raises(KernelError, match="ENOENT"):
            await kernel.adopt(str(tmp_path / "absent"), {})


class TestInterrupt:
    """Interrupting restarts the kernel, as interrupting E2B's JavaScript kernel does."""

    async def test_busy_loop_is_interrupted(self, kernel: Kernel) -> None:
        """A cell stuck in a synchronous loop ends with ContextRestarting."""
        error = single_error(await start_interrupted(kernel, "while (true) {}"))
        assert (error["name"], error["value"]) == ("ContextRestarting", "Context was restarted")

    async def test_never_settling_promise_is_interrupted(self, kernel: Kernel) -> None:
        """A cell awaiting a Promise that never settles can be interrupted."""
        error = single_error(await start_interrupted(kernel, "await new Promise(() => {})"))
        assert error["name"] == "ContextRestarting"

    async def test_kernel_is_usable_after_interrupt(self, kernel: Kernel, tmp_path: Path) -> None:
        """The restarted kernel runs cells, in the adopted directory, with its state lost."""
        await kernel.adopt(str(tmp_path), {"SANDBOX_VAR": "v"})
        await run(kernel, "globalThis.before = 1")
        old_pid = kernel.pid
        await start_interrupted(kernel, "while (true) {}")
        assert kernel.pid not in (None, old_pid)
        code = "JSON.stringify([typeof before, process.cwd(), process.env.SANDBOX_VAR])"
        assert json.loads(await result_of(kernel, code)) == ["undefined", str(tmp_path), "v"]

    async def test_cell_whose_caller_gave_up_can_be_interrupted(self, kernel: Kernel) -> None:
        """After its execute call was cancelled, a still-running cell is stopped by interrupt."""
        cell = asyncio.create_task(run(kernel, "while (true) {}"))
        await asyncio.sleep(0.3)
        cell.cancel()
        await kernel.interrupt()
        assert await asyncio.wait_for(result_of(kernel, "'free'"), timeout=5) == "free"

    async def test_interrupt_when_idle_does_nothing(self, kernel: Kernel) -> None:
        """With no cell running, interrupt keeps the process and its state."""
        pid = kernel.pid
        await run(kernel, "globalThis.kept = 1")
        await kernel.interrupt()
        assert kernel.pid == pid
        assert await result_of(kernel, "kept") == "1"


class TestProcessExit:
    """A cell that ends the process ends with an error, and the kernel comes back."""

    async def test_process_exit_ends_the_cell_with_an_error(self, kernel: Kernel) -> None:
        """process.exit() gives ContextRestarting with the exit code in the traceback."""
        events = await run(kernel, "console.log('bye'); process.exit(3)")
        assert events[0] == {"type": "stdout", "text": "bye\n"}
        assert events[1]["name"] == "ContextRestarting"
        assert "code 3" in events[1]["traceback"]

    async def test_kernel_is_usable_after_process_exit(
        self, kernel: Kernel, tmp_path: Path
    ) -> None:
        """The next cell runs in a fresh process in the adopted directory."""
        await kernel.adopt(str(tmp_path), {})
        old_pid = kernel.pid
        await run(kernel, "process.exit(0)")
        assert kernel.pid not in (None, old_pid)
        assert await result_of(kernel, "process.cwd()") == str(tmp_path)

    async def test_exit_from_a_timer_is_survived(self, kernel: Kernel) -> None:
        """A process that exits between cells is restarted for the next cell."""
        await run(kernel, "setTimeout(() => process.exit(1), 10); 0")
        await eventually(lambda: kernel.pid is None)
        assert await result_of(kernel, "'alive'") == "alive"


class TestPackages:
    async def test_missing_packages_point_a_checkout_at_dev_py_sync(
        self, tmp_path: Path, base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A kernel directory without its Node packages fails to start, saying to run
        `python3 dev.py sync` (never npm into site-packages)."""
        empty = tmp_path / "js"
        empty.mkdir()
        monkeypatch.setattr(javascript, "JS_DIR", empty)
        with pytest.raises(KernelError) as caught:
            await start_javascript_kernel("javascript", neutral_cwd=tmp_path, base_env=base_env)
        assert "run `python3 dev.py sync`" in str(caught.value)
        assert "npm" not in str(caught.value)


class TestLifecycle:
    """The process group is the kernel's, from start to shutdown."""

    async def test_pid_leads_its_own_process_group(self, kernel: Kernel) -> None:
        """The kernel process is the leader of a new process group."""
        assert kernel.pid is not None
        assert os.getpgid(kernel.pid) == kernel.pid

    async def test_shutdown_kills_the_process_group(self, kernel: Kernel) -> None:
        """Shutdown kills the kernel and the processes its cells started."""
        code = "require('child_process').spawn('sleep', ['60']).pid"
        child = psutil.Process(int(await result_of(kernel, code)))
        leader = psutil.Process(kernel.pid)
        await kernel.shutdown()
        await eventually(lambda: dead(leader) and dead(child))
        assert kernel.pid is None

    async def test_shutdown_is_bounded_when_an_escaped_process_holds_stderr(
        self, kernel: Kernel
    ) -> None:
        """A process in a session of its own that keeps stderr open does not stall shutdown."""
        code = (
            "require('child_process').spawn('sleep', ['30'], "
            "{detached: true, stdio: 'inherit'}).pid"
        )
        escaped = psutil.Process(int(await result_of(kernel, code)))
        try:
            started = asyncio.get_running_loop().time()
            await kernel.shutdown()
            assert asyncio.get_running_loop().time() - started < 5
        finally:
            escaped.kill()

    async def test_shutdown_is_idempotent(self, kernel: Kernel) -> None:
        """A second shutdown is harmless."""
        await kernel.shutdown()
        await kernel.shutdown()
        assert kernel.pid is None

    async def test_execute_after_shutdown_raises(self, kernel: Kernel) -> None:
        """A shut-down kernel refuses to run cells."""
        await kernel.shutdown()
        with pytest.raises(KernelError):
            await run(kernel, "1")

    async def test_unsupported_language_is_refused(self, tmp_path: Path) -> None:
        """The factory only starts javascript kernels."""
        with pytest.raises(KernelError):
            await start_javascript_kernel("python", neutral_cwd=tmp_path, base_env={})


class TestTurnoutRuntime:
    """turnout's own JavaScript runtime program works as a kernel cell."""

    async def test_runtime_writes_result_and_kernel_stays_alive(
        self, kernel: Kernel, tmp_path: Path
    ) -> None:
        """The runtime writes .turnout/result.json in the cwd and does not exit the kernel."""
        config = parse_config(
            {"language": "javascript", "code": "const b = await Promise.resolve(a)\nreturn b + 1"}
        )
        request = prepare_request(config, {"a": 41}, execution_id="e1", max_result_bytes=1 << 20)
        await kernel.adopt(str(tmp_path), {})
        pid = kernel.pid
        assert await run(kernel, request.program, language="javascript") == []
        outcome = json.loads((tmp_path / request.result_path).read_text())
        assert outcome == {"ok": True, "channel": "return", "value": 42}
        assert kernel.pid == pid
        assert await result_of(kernel, "1 + 1") == "2"
