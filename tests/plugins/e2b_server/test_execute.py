"""Code execution through the unmodified SDK and the raw NDJSON stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from e2b import NotFoundException, TimeoutException
from e2b_code_interpreter import AsyncSandbox
from e2b_code_interpreter.models import Context
from turnout_e2b_server.testing import ServerProcess

from .support import execute_body, execute_headers, parse, raw_lines


class TestRunCodePython:
    async def test_stdout_is_captured(self, shared_sandbox: AsyncSandbox) -> None:
        """print() output arrives as stdout log lines."""
        execution = await shared_sandbox.run_code("print('hello'); print('world')")
        assert "".join(execution.logs.stdout) == "hello\nworld\n"

    async def test_stderr_is_captured(self, shared_sandbox: AsyncSandbox) -> None:
        """Writes to sys.stderr arrive as stderr log lines."""
        execution = await shared_sandbox.run_code("import sys; sys.stderr.write('oops\\n')")
        assert execution.logs.stderr == ["oops\n"]

    async def test_dict_result_carries_json(self, shared_sandbox: AsyncSandbox) -> None:
        """A dict result has its repr as text and the value as json."""
        execution = await shared_sandbox.run_code("{'a': 1, 'b': [1, 2.5, None]}")
        (result,) = execution.results
        assert (result.text, result.json, result.is_main_result) == (
            "{'a': 1, 'b': [1, 2.5, None]}",
            {"a": 1, "b": [1, 2.5, None]},
            True,
        )

    async def test_list_result_carries_json(self, shared_sandbox: AsyncSandbox) -> None:
        """A list result carries json too (tuples inside become lists)."""
        execution = await shared_sandbox.run_code("[1, (2, 3), 'x']")
        assert execution.results[0].json == [1, [2, 3], "x"]

    async def test_nan_in_json_becomes_null(self, shared_sandbox: AsyncSandbox) -> None:
        """NaN inside a dict result is null in json, as E2B's orjson formatter makes it."""
        execution = await shared_sandbox.run_code("{'x': float('nan'), 1: 'int key'}")
        assert execution.results[0].json == {"x": None, "1": "int key"}

    async def test_scalar_result_is_text_only(self, shared_sandbox: AsyncSandbox) -> None:
        """A number result is text, without json."""
        execution = await shared_sandbox.run_code("6 * 7")
        assert (execution.text, execution.results[0].json) == ("42", None)

    async def test_string_result_loses_its_quotes(self, shared_sandbox: AsyncSandbox) -> None:
        """A string result's repr has one pair of quotes stripped."""
        execution = await shared_sandbox.run_code("'hello'")
        assert execution.text == "hello"

    @pytest.mark.parametrize("code", ["None", "x = 5", "import os"])
    async def test_no_result_for_none_or_statements(
        self, shared_sandbox: AsyncSandbox, code: str
    ) -> None:
        """None, an assignment or an import produce no result at all."""
        execution = await shared_sandbox.run_code(code)
        assert execution.results == []

    async def test_display_data_is_not_the_main_result(self, shared_sandbox: AsyncSandbox) -> None:
        """display() output is a result with is_main_result false, before the main one."""
        execution = await shared_sandbox.run_code("display([1]); 2")
        assert [(r.text, r.is_main_result) for r in execution.results] == [
            ("[1]", False),
            ("2", True),
        ]

    async def test_error_has_name_value_and_traceback(self, shared_sandbox: AsyncSandbox) -> None:
        """An exception becomes an error with name, value and a colourless traceback."""
        execution = await shared_sandbox.run_code("def f():\n    return 1 / 0\nf()")
        error = execution.error
        assert error is not None
        assert (error.name, error.value) == ("ZeroDivisionError", "division by zero")
        assert "ZeroDivisionError" in error.traceback
        assert "----> 3 f()" in error.traceback
        assert "\x1b[" not in error.traceback

    async def test_state_persists_between_cells(self, shared_sandbox: AsyncSandbox) -> None:
        """A variable defined in one cell is visible in the next."""
        await shared_sandbox.run_code("persisted = 'kept'")
        assert (await shared_sandbox.run_code("persisted")).text == "kept"

    async def test_execution_count_increases(self, shared_sandbox: AsyncSandbox) -> None:
        """Each cell of a context gets the next execution count."""
        first = await shared_sandbox.run_code("1")
        second = await shared_sandbox.run_code("2")
        assert second.execution_count == first.execution_count + 1

    async def test_per_cell_env_vars_apply_to_that_cell_only(
        self, shared_sandbox: AsyncSandbox
    ) -> None:
        """envs given to run_code are set during the cell and gone afterwards."""
        code = "import os; os.environ.get('CELL_ONLY')"
        during = await shared_sandbox.run_code(code, envs={"CELL_ONLY": "yes"})
        after = await shared_sandbox.run_code(code)
        assert (during.text, after.results) == ("yes", [])

    async def test_output_is_sent_without_ipykernels_flush_delay(
        self, shared_sandbox: AsyncSandbox
    ) -> None:
        """stdout and stderr leave the kernel 5 ms after a write, not ipykernel's 0.2 s, so
        code that prints and then starts a fork storm does not starve its own output."""
        execution = await shared_sandbox.run_code(
            "import sys; (sys.stdout.flush_interval, sys.stderr.flush_interval)"
        )
        assert execution.text == "(0.005, 0.005)"


class TestSandboxEnvironment:
    async def test_create_env_vars_reach_the_kernel(self, sdk: dict[str, Any]) -> None:
        """The create call's envs are in the kernel's environment."""
        sandbox = await AsyncSandbox.create(envs={"GREETING": "hi"}, **sdk)
        try:
            execution = await sandbox.run_code("import os; os.environ['GREETING']")
        finally:
            await sandbox.kill()
        assert execution.text == "hi"

    async def test_host_environment_is_not_visible(self, shared_sandbox: AsyncSandbox) -> None:
        """Only allow-listed variables reach user code, never the server's own."""
        execution = await shared_sandbox.run_code("import os; sorted(os.environ)")
        names = set(execution.results[0].json or [])
        assert {"PATH", "LANG", "TZ", "HOME"} <= names
        assert "NO_PROXY" not in names
        assert "PYTEST_CURRENT_TEST" not in names

    async def test_cwd_and_home_are_home_user_as_at_e2b(
        self, e2b_server: ServerProcess, shared_sandbox: AsyncSandbox
    ) -> None:
        """Both kernels run in /home/user, which is also HOME, and is the sandbox's own
        directory on the server (where envd's /files reads and writes)."""
        if not e2b_server.stats()["isolation"]["enabled"]:
            pytest.skip("without namespaces there is no /home/user")
        python = await shared_sandbox.run_code(
            "import os; open('from-python', 'w').write('p'); [os.getcwd(), os.environ['HOME']]"
        )
        javascript = await shared_sandbox.run_code(
            "JSON.stringify([process.cwd(), require('os').homedir()])", language="js"
        )
        assert python.results[0].json == ["/home/user", "/home/user"]
        assert javascript.text == '["/home/user","/home/user"]'
        assert await shared_sandbox.files.read("/home/user/from-python") == "p"

    @pytest.mark.parametrize("cwd", ["/root", "/tmp", "/"])
    async def test_a_context_may_start_anywhere_on_the_sandboxs_machine(
        self, e2b_server: ServerProcess, shared_sandbox: AsyncSandbox, cwd: str
    ) -> None:
        """create_code_context(cwd=...) outside /home/user works, as at E2B."""
        if not e2b_server.stats()["isolation"]["enabled"]:
            pytest.skip("without namespaces only /home/user exists")
        context = await shared_sandbox.create_code_context(cwd=cwd)
        try:
            execution = await shared_sandbox.run_code("import os; os.getcwd()", context=context)
        finally:
            await shared_sandbox.remove_code_context(context)
        assert (context.cwd, execution.text) == (cwd, cwd)


class TestStreamFraming:
    async def test_every_line_is_one_json_object(
        self, e2b_server: ServerProcess, shared_sandbox_id: str
    ) -> None:
        """No blank lines; number_of_executions first, end_of_execution last."""
        lines = await raw_lines(e2b_server, shared_sandbox_id, "print('a'); 1")
        events = parse(lines)
        assert all(line.strip() for line in lines)
        assert events[0]["type"] == "number_of_executions"
        assert events[-1] == {"type": "end_of_execution"}
        assert [e["type"] for e in events[1:-1]] == ["stdout", "result"]

    async def test_stdout_events_carry_a_timestamp(
        self, e2b_server: ServerProcess, shared_sandbox_id: str
    ) -> None:
        """stdout events have text and an ISO timestamp."""
        events = parse(await raw_lines(e2b_server, shared_sandbox_id, "print('t')"))
        stdout = next(e for e in events if e["type"] == "stdout")
        assert stdout["text"] == "t\n"
        assert "T" in stdout["timestamp"]

    async def test_keepalive_after_five_silent_seconds(
        self, e2b_server: ServerProcess, shared_sandbox_id: str
    ) -> None:
        """A cell silent for 6 s gets one keepalive line between its outputs."""
        code = "import time; print('a', flush=True); time.sleep(6); print('b')"
        events = parse(await raw_lines(e2b_server, shared_sandbox_id, code))
        assert [e["type"] for e in events] == [
            "number_of_executions",
            "stdout",
            "keepalive",
            "stdout",
            "end_of_execution",
        ]


class TestOutputCoalescing:
    async def test_a_flood_arrives_whole_in_fewer_messages(
        self, shared_sandbox: AsyncSandbox
    ) -> None:
        """20,000 console.log calls reach the SDK as the same text, in order, in fewer
        messages than lines: output already waiting is sent as one message."""
        messages: list[str] = []
        await shared_sandbox.run_code(
            "for (let i = 0; i < 20000; i++) console.log(i);",
            language="javascript",
            on_stdout=lambda message: messages.append(message.line),
            timeout=120,
        )
        assert "".join(messages) == "".join(f"{i}\n" for i in range(20000))
        assert len(messages) < 20000

    async def test_stdout_and_stderr_keep_their_interleaving(
        self, shared_sandbox: AsyncSandbox
    ) -> None:
        """Only adjacent output of one stream is merged: alternating writes to stdout and
        stderr arrive in the order they were made."""
        order: list[tuple[str, str]] = []

        def collect(stream: str) -> Callable[[Any], None]:
            return lambda message: order.extend(
                (stream, line) for line in message.line.splitlines()
            )

        await shared_sandbox.run_code(
            "for (let i = 0; i < 2000; i++) { console.log('o' + i); console.error('e' + i); }",
            language="javascript",
            on_stdout=collect("stdout"),
            on_stderr=collect("stderr"),
            timeout=120,
        )
        expected = [
            pair for i in range(2000) for pair in (("stdout", f"o{i}"), ("stderr", f"e{i}"))
        ]
        assert order == expected


class TestRequests:
    def test_context_and_language_together_is_400(
        self, e2b_server: ServerProcess, shared_sandbox_id: str
    ) -> None:
        """Giving both context_id and language answers 400 with a JSON error body."""
        response = httpx.post(
            f"{e2b_server.url}/execute",
            json=execute_body("1", context_id="x", language="python"),
            headers=execute_headers(e2b_server, shared_sandbox_id),
            trust_env=False,
        )
        assert (response.status_code, response.json()["code"]) == (400, 400)

    async def test_unknown_context_raises_not_found(self, shared_sandbox: AsyncSandbox) -> None:
        """run_code in a context the sandbox does not have raises NotFoundException."""
        with pytest.raises(NotFoundException):
            await shared_sandbox.run_code("1", context=Context("nope", "python", "/home/user"))

    def test_unknown_sandbox_is_a_502_not_found(self, e2b_server: ServerProcess) -> None:
        """/execute for a sandbox the server does not know answers 502 "was not found"."""
        response = httpx.post(
            f"{e2b_server.url}/execute",
            json=execute_body("1"),
            headers=execute_headers(e2b_server, "nosuchsandbox0000000"),
            trust_env=False,
        )
        assert response.status_code == 502
        assert "was not found" in response.json()["message"]


class TestDisconnect:
    @pytest.mark.timing
    async def test_client_timeout_interrupts_the_cell(
        self, e2b_server: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """After run_code gives up on a 30 s cell, the kernel runs the next cell at once."""
        with pytest.raises(TimeoutException):
            await sandbox.run_code("import time; time.sleep(30)", timeout=0.5)
        started = time.monotonic()
        execution = await sandbox.run_code("'next'", timeout=10)
        assert execution.text == "next"
        assert time.monotonic() - started < 3
        assert e2b_server.stats()["counters"]["executions_interrupted"] == 1

    async def test_hang_up_mid_cell_keeps_the_context_and_its_state(
        self, e2b_server: ServerProcess, sandbox: AsyncSandbox
    ) -> None:
        """A raw client hanging up mid-cell gets the cell interrupted, state intact."""
        await sandbox.run_code("kept = 1")
        async with (
            httpx.AsyncClient(trust_env=False, timeout=10) as client,
            client.stream(
                "POST",
                f"{e2b_server.url}/execute",
                json=execute_body("import time; time.sleep(30)"),
                headers=execute_headers(e2b_server, sandbox.sandbox_id),
            ) as response,
        ):
            await response.aiter_lines().__anext__()  # number_of_executions: it runs
        await asyncio.sleep(0.1)
        assert (await sandbox.run_code("kept + 1", timeout=10)).text == "2"
        assert e2b_server.stats()["counters"]["executions_interrupted"] == 1


class TestKernelDeath:
    async def test_dead_kernel_reports_context_restarting(self, sandbox: AsyncSandbox) -> None:
        """A kernel that dies mid-cell ends the cell with a ContextRestarting error."""
        execution = await sandbox.run_code("import os; os._exit(1)")
        assert execution.error is not None
        assert execution.error.name == "ContextRestarting"

    async def test_next_cell_gets_a_fresh_kernel(self, sandbox: AsyncSandbox) -> None:
        """After a kernel death the context runs again on a new kernel, its state lost."""
        await sandbox.run_code("lost = 1")
        await sandbox.run_code("import os; os._exit(1)")
        execution = await sandbox.run_code("'lost' in globals()")
        assert (execution.text, execution.execution_count) == ("False", 1)


class TestContexts:
    async def test_new_context_has_its_own_state(self, sandbox: AsyncSandbox) -> None:
        """A created context does not see the default context's variables."""
        await sandbox.run_code("only_default = 1")
        context = await sandbox.create_code_context()
        execution = await sandbox.run_code("'only_default' in globals()", context=context)
        assert execution.text == "False"

    async def test_contexts_can_be_listed_and_removed(self, sandbox: AsyncSandbox) -> None:
        """A created context is listed until it is removed."""
        context = await sandbox.create_code_context(cwd="/home/user")
        listed = [c.id for c in await sandbox.list_code_contexts()]
        await sandbox.remove_code_context(context)
        after = [c.id for c in await sandbox.list_code_contexts()]
        assert (context.id in listed, context.id in after) == (True, False)
        assert (context.language, context.cwd) == ("python", "/home/user")


class TestRunCodeJavaScript:
    async def test_js_cell_runs_on_the_javascript_kernel(self, sandbox: AsyncSandbox) -> None:
        """language="js" runs in Node, with console.log as stdout and a text result."""
        execution = await sandbox.run_code("console.log('from node'); 40 + 2", language="js")
        assert (execution.logs.stdout, execution.text) == (["from node\n"], "42")

    async def test_ts_cell_has_its_types_stripped(self, sandbox: AsyncSandbox) -> None:
        """language="ts" runs TypeScript on the same kernel kind, types removed."""
        execution = await sandbox.run_code("const n: number = 2; n * 21", language="ts")
        assert execution.text == "42"

    async def test_js_and_python_share_the_sandbox_files(self, sandbox: AsyncSandbox) -> None:
        """A file written by the Python kernel is read by the JavaScript one."""
        await sandbox.run_code("open('shared.txt', 'w').write('both')")
        execution = await sandbox.run_code(
            "require('fs').readFileSync('shared.txt', 'utf8')", language="javascript"
        )
        assert execution.text == "both"
