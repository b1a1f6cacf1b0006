"""The e2b backend, for real: the unmodified SDK against the local E2B-compatible server."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from turnout_e2b import E2BBackend
from turnout_e2b.cells import INLINE_RESULT_BYTES
from turnout_e2b_server.testing import ServerProcess

from turnout import (
    BackendSettings,
    CodeExecutionError,
    ConfigurationError,
    Envelope,
    InfrastructureError,
    InternalError,
    execute_code_node,
)
from turnout.backend import declared_max_concurrency
from turnout.comparison import normalize_outcome
from turnout.contract import prepare_request, runtime_source
from turnout.engine import Engine
from turnout.models import parse_config

pytestmark = pytest.mark.usefixtures("e2b_url")


async def run(
    language: str,
    code: str,
    context: dict[str, Any] | None = None,
    *,
    backend: str = "e2b",
    **config: Any,
) -> dict[str, Any]:
    node = {"language": language, "code": code, **config}
    return await execute_code_node(node, context or {}, backend=backend)


async def failure(language: str, code: str, **config: Any) -> CodeExecutionError:
    with pytest.raises(CodeExecutionError) as caught:
        await run(language, code, **config)
    return caught.value


def both(python: str, javascript: str) -> Any:
    return pytest.mark.parametrize(
        ("language", "code"),
        [("python", python), ("javascript", javascript)],
        ids=["python", "javascript"],
    )


def backend(**options: Any) -> E2BBackend:
    return E2BBackend(BackendSettings(environment="test", options=options))


def request(language: str, code: str, timeout: int = 10_000) -> Any:
    config = parse_config({"language": language, "code": code, "timeout": timeout})
    return prepare_request(
        config, {}, execution_id="t" + str(time.time_ns()), max_result_bytes=64 * 1024 * 1024
    )


def live_sandboxes(server: ServerProcess) -> int:
    return int(server.stats()["live_sandboxes"])


class TestSeedChecklist:
    @both(
        "return {'sum': sum(numbers), 'who': inputs['user']['name']}",
        "return {sum: numbers.reduce((a, b) => a + b, 0), who: inputs.user.name}",
    )
    async def test_input_variables_reach_the_code(self, language: str, code: str) -> None:
        """Selected context keys arrive as globals and through `inputs`."""
        context = {"numbers": [1, 2, 3], "user": {"name": 'Zoë "Z"'}, "unused": 1}
        envelope = await run(language, code, context, inputVariables=["numbers", "user"])
        assert envelope["output"] == {"sum": 6, "who": 'Zoë "Z"'}
        assert envelope["metadata"]["backend"] == "e2b"
        assert envelope["metadata"]["sandboxId"]

    @pytest.mark.timing
    @both("while True:\n    pass", "while (true) {}")
    async def test_timeout_is_enforced_by_turnout(self, language: str, code: str) -> None:
        """A busy loop ends as `timeout` within timeout + 1 s, however the SDK times out."""
        started = time.monotonic()
        error = await failure(language, code, timeout=2000)
        assert error.kind == "timeout"
        assert time.monotonic() - started < 2000 / 1000 + 1 + 0.5  # + create on a busy box

    @pytest.mark.timing
    @both("while True:\n    print('x' * 1000)", "while (true) { console.log('x'.repeat(1000)); }")
    async def test_timeout_holds_while_output_streams(self, language: str, code: str) -> None:
        """A node flooding stdout still times out promptly (the SDK's busy stream once held
        the cancelled call for ~15 s), as a non-retryable timeout, not an infra error."""
        started = time.monotonic()
        error = await failure(language, code, timeout=2000)
        assert error.kind == "timeout"
        assert time.monotonic() - started < 2000 / 1000 + 1 + 0.5  # + create on a busy box

    @both(
        "print('early', flush=True)\nimport time\nwhile True:\n    time.sleep(1)",
        "console.log('early');\nawait new Promise(() => {});",
    )
    async def test_output_before_the_deadline_survives_a_stalled_event_loop(
        self, language: str, code: str, e2b_server: ServerProcess
    ) -> None:
        """Output printed in time is in the timeout error even when the caller's event loop
        was held up across the deadline (as a synchronous process spawn under a fork storm
        holds it): the deadline's timer must not win over output that already arrived."""
        loop = asyncio.get_running_loop()
        before = e2b_server.stats()["counters"].get("executions", 0)

        def hold_the_loop_once_the_code_runs() -> None:
            # The sandbox's second cell is the node's: the first loads turnout's runtime.
            while e2b_server.stats()["counters"].get("executions", 0) < before + 2:
                time.sleep(0.02)
            # The code prints while the loop is held, until past the 3 s deadline.
            loop.call_soon_threadsafe(time.sleep, 4.0)

        watcher = threading.Thread(target=hold_the_loop_once_the_code_runs, daemon=True)
        watcher.start()
        error = await failure(language, code, timeout=3000)
        watcher.join(10)
        assert error.kind == "timeout"
        assert error.stdout == "early\n"

    async def test_javascript_await_that_never_resolves_times_out(self) -> None:
        """A never-settling await is bounded like a busy loop."""
        error = await failure("javascript", "await new Promise(() => {});", timeout=1500)
        assert error.kind == "timeout"

    @both("x = 1\n\ndef broken(:\n    pass", "const x = 1;\n\nlet = = 2;\nx")
    async def test_syntax_error_reports_the_users_line(self, language: str, code: str) -> None:
        """Syntax errors carry the user's line, as on every backend."""
        error = await failure(language, code)
        assert (error.kind, error.line) == ("syntax", 3)

    @both(
        "print('before')\nraise ValueError('boom')",
        "console.log('before');\nthrow new TypeError('boom');",
    )
    async def test_runtime_error_keeps_prior_stdout(self, language: str, code: str) -> None:
        """A runtime error has the user's line and what the code printed before failing."""
        error = await failure(language, code)
        assert (error.kind, error.line, error.stdout) == ("runtime", 2, "before\n")

    @both(
        "import sys\nprint('out')\nprint('err', file=sys.stderr)",
        "console.log('out');\nconsole.error('err');",
    )
    async def test_stdout_and_stderr_are_captured(self, language: str, code: str) -> None:
        """stdout and stderr come back separately and exactly."""
        envelope = await run(language, code)
        assert (envelope["stdout"], envelope["stderr"]) == ("out\n", "err\n")
        assert envelope["logs"] == ["out", "ERROR: err"]

    @both("return 'x' * 10_000_000", "return 'x'.repeat(10_000_000)")
    async def test_large_output_travels_exactly(self, language: str, code: str) -> None:
        """A 10 MB output comes back whole (it never passes through text/plain)."""
        assert (await run(language, code))["output"] == "x" * 10_000_000

    @both("return len(blob)", "return blob.length")
    async def test_large_input_travels_exactly(self, language: str, code: str) -> None:
        """A 10 MB context value reaches the code whole (it travels as a file)."""
        assert (await run(language, code, {"blob": "y" * 10_000_000}))["output"] == 10_000_000

    @both("return text", "return text")
    async def test_context_interpolation_is_byte_exact(self, language: str, code: str) -> None:
        """Hostile text in the context reaches the code unchanged."""
        text = "a\nb \"q\" 'q' ''' \\ \x00 é 😀 ${x} {{y}}"
        assert (await run(language, code, {"text": text}))["output"] == text


PARITY_CASES = [
    ("python", "result = 1\nif True:\n    return 2\n3", {}),
    ("python", "print(result)", {"result": 5}),
    (
        "python",
        "import datetime, decimal\nreturn {'t': (1, 2), 's': {2, 1}, "
        "'d': datetime.date(2024, 1, 2), 'm': decimal.Decimal('1.5'), 'n': float('nan')}",
        {},
    ),
    ("python", "x = 20\nx + 1", {}),
    ("python", "import lodash", {}),
    ("python", "return inputs", {"inputs": [1, 2]}),
    ("javascript", "let result = 'r';\n'last'", {}),
    ("javascript", "return {d: new Date(0), u: undefined, n: NaN}", {}),
    ("javascript", "console.log(result)", {"result": 5}),
    ("javascript", "Promise.resolve(42)", {}),
    ("javascript", "throw {code: 42}", {}),
    ("javascript", "require('lodash')", {}),
    ("javascript", "process.exit(3)", {}),
]


def normalized(outcome: dict[str, Any] | BaseException) -> Any:
    if isinstance(outcome, CodeExecutionError):
        return ("error", outcome.kind, outcome.name, outcome.line, outcome.stdout, outcome.stderr)
    assert isinstance(outcome, dict)
    return normalize_outcome(outcome)


class TestParityWithLocalSubprocess:
    @pytest.mark.parametrize(("language", "code", "context"), PARITY_CASES)
    async def test_envelopes_are_identical_except_timings_and_ids(
        self, language: str, code: str, context: dict[str, Any]
    ) -> None:
        """The same node gives the same envelope (or error) on e2b and local-subprocess."""
        outcomes = []
        for backend_id in ("local-subprocess", "e2b"):
            try:
                outcomes.append(await run(language, code, context, backend=backend_id))
            except CodeExecutionError as error:
                outcomes.append(error)  # type: ignore[arg-type]
        assert normalized(outcomes[0]) == normalized(outcomes[1])


class TestInlineResult:
    async def test_a_small_python_result_comes_back_with_the_cell(self) -> None:
        """A small result file arrives as the cell's result: no second request reads it."""
        instance = backend()
        try:
            result = await instance.execute(request("python", "return {'a': [1, 2]}"))
        finally:
            await instance.aclose()
        assert result.result is not None
        assert json.loads(result.result)["value"] == {"a": [1, 2]}
        assert "download" not in result.timings_ms

    async def test_a_large_python_result_is_read_from_the_sandbox(self) -> None:
        """A result file over the inline limit is read with its own request, as before."""
        instance = backend()
        try:
            size = INLINE_RESULT_BYTES + 10
            result = await instance.execute(request("python", f"return 'x' * {size}"))
        finally:
            await instance.aclose()
        assert result.result is not None
        assert json.loads(result.result)["value"] == "x" * size
        assert "download" in result.timings_ms

    async def test_what_user_code_displays_is_not_taken_for_the_result(self) -> None:
        """A dict of the helper's shape displayed by user code is not the main result."""
        code = (
            "from IPython.display import display\n"
            "display({'turnout_result_file': '{\"ok\": true, \"value\": 666}'})\n"
            "return 1"
        )
        envelope = await run("python", code, {}, backend="e2b")
        assert envelope["output"] == 1


class TestSandboxLifecycle:
    async def test_every_sandbox_is_killed_after_success_error_and_timeout(
        self, e2b_server: ServerProcess
    ) -> None:
        """After a success, a user error and a timeout, the server lists no live sandbox."""
        instance = backend()
        for code in ("print(1)", "1/0", "while True: pass"):
            await instance.execute(request("python", code, timeout=1500))
        await instance.aclose()
        assert live_sandboxes(e2b_server) == 0

    async def test_cancellation_kills_the_sandbox(self, e2b_server: ServerProcess) -> None:
        """Cancelling a running execution still kills its sandbox."""
        instance = backend()
        task = asyncio.create_task(
            instance.execute(request("python", "import time\ntime.sleep(30)"))
        )
        for _ in range(100):
            if live_sandboxes(e2b_server):
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await instance.aclose()
        assert live_sandboxes(e2b_server) == 0

    async def test_cancellation_during_create_kills_the_sandbox(
        self, e2b_server: ServerProcess
    ) -> None:
        """A caller cancelled the moment its sandbox exists, before create returns, is
        cancelled (the SDK's transport swallows that cancel) and the sandbox is killed."""
        instance = backend()
        headers = {"X-API-KEY": e2b_server.api_key}
        async with httpx.AsyncClient(
            base_url=e2b_server.url, headers=headers, trust_env=False
        ) as admin:
            for _ in range(3):
                task = asyncio.create_task(instance.execute(request("python", "return 1")))
                while not (await admin.get("/_turnout/admin/stats")).json()["live_sandboxes"]:
                    assert not task.done(), "the execution ended before its sandbox was listed"
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await instance.aclose()
                assert live_sandboxes(e2b_server) == 0

    async def test_sandboxes_carry_turnout_metadata(self, e2b_server: ServerProcess) -> None:
        """A live sandbox is tagged with turnout's owner key, execution id and environment."""
        from e2b import SandboxQuery
        from e2b_code_interpreter import AsyncSandbox

        instance = backend()
        task = asyncio.create_task(
            instance.execute(request("python", "import time\ntime.sleep(3)"))
        )
        found: list[Any] = []
        for _ in range(100):
            paginator = AsyncSandbox.list(
                query=SandboxQuery(metadata={"turnout": "1"}), **e2b_server.sdk_options
            )
            found = await paginator.next_items()
            if found:
                break
            await asyncio.sleep(0.05)
        await task
        await instance.aclose()
        assert found
        assert found[0].metadata["turnout_environment"] == "test"
        assert found[0].metadata["turnout_execution_id"].startswith("t")


class TestDrain:
    async def test_the_drain_after_a_deadline_is_bounded_by_time_not_rounds(self) -> None:
        """When each round of the event loop is slow (a loop busy with other executions),
        the drain stops at DRAIN_S instead of waiting out all its rounds."""
        from turnout_e2b.backend import DRAIN_ROUNDS, _drain_arrived_output

        loop = asyncio.get_running_loop()
        rounds = 0
        stop = False

        def slow_round() -> None:
            nonlocal rounds
            rounds += 1
            time.sleep(0.01)  # every round of this loop costs 10 ms
            if not stop:
                loop.call_soon(slow_round)

        never_done: asyncio.Future[None] = loop.create_future()
        loop.call_soon(slow_round)
        await _drain_arrived_output(never_done)
        stop = True
        assert rounds < DRAIN_ROUNDS


SLOW_RUNTIME_TAIL = {
    "python": "\nimport time as __slow\n__slow.sleep(1.5)\n",
    "javascript": "\n{ const until = Date.now() + 1500; while (Date.now() < until) {} }\n",
}
BROKEN_RUNTIME_TAIL = {
    "python": "\nraise RuntimeError('runtime broken')\n",
    "javascript": "\nthrow new Error('runtime broken');\n",
}


def with_runtime_tail(
    monkeypatch: pytest.MonkeyPatch, language: str, tail: str, timeout: int
) -> Any:
    """A request whose runtime (as the backend sees it) ends with `tail`."""
    import turnout_e2b.cells

    real = request(language, "return 'ran'", timeout=timeout)
    runtime = runtime_source(language)
    monkeypatch.setattr(turnout_e2b.cells, "runtime_source", lambda _: runtime + tail)
    program = runtime + tail + real.program[len(runtime) :]
    return real.model_copy(update={"program": program})


class TestRuntimeCell:
    @pytest.mark.parametrize("language", ["python", "javascript"])
    async def test_the_timeout_starts_once_the_runtime_is_loaded(
        self, monkeypatch: pytest.MonkeyPatch, language: str
    ) -> None:
        """A runtime that takes 1.5 s to load does not use up a 1 s node timeout: like a
        local-subprocess hand-over, the node's clock starts when its own cell starts."""
        slow = with_runtime_tail(monkeypatch, language, SLOW_RUNTIME_TAIL[language], 1000)
        instance = backend()
        try:
            result = await instance.execute(slow)
        finally:
            await instance.aclose()
        assert result.termination == "exited"
        assert json.loads(result.result or "{}")["value"] == "ran"
        assert result.timings_ms["setup"] >= 1500

    @pytest.mark.parametrize("language", ["python", "javascript"])
    async def test_a_runtime_that_fails_to_load_is_an_error_before_start(
        self, monkeypatch: pytest.MonkeyPatch, e2b_server: ServerProcess, language: str
    ) -> None:
        """A kernel error in the runtime's cell is a retryable infrastructure error marked
        not started (no user code ran), naming the kernel's error; nothing is left alive."""
        broken = with_runtime_tail(monkeypatch, language, BROKEN_RUNTIME_TAIL[language], 5000)
        instance = backend()
        try:
            with pytest.raises(InfrastructureError, match="runtime broken") as caught:
                await instance.execute(broken)
        finally:
            await instance.aclose()
        assert (caught.value.retryable, caught.value.started) == (True, False)
        assert live_sandboxes(e2b_server) == 0


class TestFaults:
    async def test_create_retries_through_transient_503s(self, e2b_server: ServerProcess) -> None:
        """Two 503s on create are retried with backoff and the execution succeeds."""
        e2b_server.inject({"kind": "create_error", "status": 503, "count": 2})
        result = await backend(create_backoff_s=0.01).execute(request("python", "print(1)"))
        assert result.stdout == "1\n"

    async def test_persistent_429_is_a_retryable_error_before_start(
        self, e2b_server: ServerProcess
    ) -> None:
        """A rate limit that outlasts the budget is retryable and marked not started."""
        e2b_server.inject({"kind": "create_error", "status": 429, "count": 10})
        instance = backend(create_attempts=3, create_backoff_s=0.01)
        with pytest.raises(InfrastructureError) as caught:
            await instance.execute(request("python", "print(1)"))
        assert (caught.value.retryable, caught.value.started) == (True, False)
        assert live_sandboxes(e2b_server) == 0

    async def test_dropped_stream_is_a_retryable_error_after_start(
        self, e2b_server: ServerProcess
    ) -> None:
        """A stream cut mid-execution is retryable and marked started; nothing is left alive."""
        e2b_server.inject({"kind": "drop_stream", "after_ms": 300, "skip": 1})
        instance = backend()
        with pytest.raises(InfrastructureError) as caught:
            await instance.execute(request("python", "import time\ntime.sleep(3)"))
        await instance.aclose()
        assert (caught.value.retryable, caught.value.started) == (True, True)
        assert live_sandboxes(e2b_server) == 0

    async def test_sandbox_killed_mid_run_is_an_infrastructure_error(
        self, e2b_server: ServerProcess
    ) -> None:
        """A sandbox that dies under the code is a retryable infrastructure error."""
        e2b_server.inject({"kind": "kill_mid_run", "after_ms": 300, "skip": 1})
        instance = backend()
        with pytest.raises(InfrastructureError) as caught:
            await instance.execute(request("python", "import time\ntime.sleep(3)"))
        await instance.aclose()
        assert caught.value.started is True
        assert live_sandboxes(e2b_server) == 0

    async def test_slow_kill_does_not_delay_the_result(self, e2b_server: ServerProcess) -> None:
        """The caller has its result while a slow kill is still pending; close completes it."""
        e2b_server.inject({"kind": "slow_kill", "delay_ms": 3000})
        instance = backend()
        result = await instance.execute(request("python", "print(1)"))
        kills_when_returned = e2b_server.stats()["counters"].get("kills", 0)
        await instance.aclose()
        assert result.stdout == "1\n"
        assert kills_when_returned == 0
        assert e2b_server.stats()["counters"]["kills"] == 1
        assert live_sandboxes(e2b_server) == 0

    async def test_a_bug_inside_a_translated_call_is_an_internal_error(
        self, e2b_server: ServerProcess
    ) -> None:
        """A KeyError from turnout's own code inside the SDK call's error translation (a
        request for a language the backend has no kernel name for) is a non-retryable
        InternalError, not a retryable "E2B sent a response missing a field"; the sandbox
        is still killed."""
        broken = request("python", "print(1)").model_copy(update={"language": "ruby"})
        instance = backend()
        with pytest.raises(InternalError) as caught:
            await instance.execute(broken)
        await instance.aclose()
        assert caught.value.retryable is False
        assert isinstance(caught.value.__cause__, KeyError)
        assert live_sandboxes(e2b_server) == 0


class TestConfiguration:
    def test_production_without_a_key_names_the_variable(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without E2B_API_KEY or a server URL, production refuses to construct the backend."""
        monkeypatch.delenv("E2B_API_URL", raising=False)
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        with pytest.raises(ConfigurationError, match="E2B_API_KEY"):
            E2BBackend(BackendSettings(environment="production"))

    def test_a_key_for_a_loopback_server_sends_sandbox_calls_there_too(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A local server started apart has a key of its own: with that key and its api_url
        (no sandbox URL), the sandbox calls go to the same server, as without a key."""
        from turnout_e2b.connection import resolve_connection
        from turnout_e2b.options import parse_options

        monkeypatch.delenv("E2B_SANDBOX_URL", raising=False)
        monkeypatch.setenv("E2B_API_KEY", "the-servers-own-key")
        options = parse_options({"api_url": "http://127.0.0.1:49999"})
        connection = resolve_connection(options, "production", dry_run=True)
        assert (connection.api_key, connection.sandbox_url) == (
            "the-servers-own-key",
            "http://127.0.0.1:49999",
        )

    def test_unknown_option_is_a_configuration_error(self) -> None:
        """A typo in the backend's options table is reported, not ignored."""
        with pytest.raises(ConfigurationError, match="templat"):
            backend(templat="x")

    def test_max_concurrency_is_declared_as_the_protocol_says(self) -> None:
        """The option is exposed as the protocol's optional `max_concurrency` member."""
        assert declared_max_concurrency(backend(max_concurrency=3)) == 3

    def test_the_embedded_server_declares_no_network_access(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Sandboxes of the embedded local server have no network: the capabilities say so,
        while the cloud's (a key, no URL) have one."""
        monkeypatch.delenv("E2B_API_URL", raising=False)
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        embedded = E2BBackend(BackendSettings(environment="test"))
        monkeypatch.setenv("E2B_API_KEY", "e2b_placeholder_for_capabilities_test")
        cloud = E2BBackend(BackendSettings(environment="test"))
        assert embedded.capabilities.network_access is False
        assert cloud.capabilities.network_access is True

    def test_the_embedded_server_declares_process_isolation(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Sandboxes of the embedded local server are processes on this host's kernel, so
        the security cases for code sharing the host apply to them; the cloud's are VMs."""
        monkeypatch.delenv("E2B_API_URL", raising=False)
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        embedded = E2BBackend(BackendSettings(environment="test"))
        monkeypatch.setenv("E2B_API_KEY", "e2b_placeholder_for_capabilities_test")
        cloud = E2BBackend(BackendSettings(environment="test"))
        assert embedded.capabilities.isolation == "process"
        assert cloud.capabilities.isolation == "microvm"

    def test_an_unconfined_embedded_server_declares_what_its_code_can_reach(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Where the host cannot confine the embedded server's kernels (not root, an old
        Linux), its sandboxes run as this process's user on the host's network, and the
        capabilities say so instead of claiming a confinement that is not there."""
        monkeypatch.delenv("E2B_API_URL", raising=False)
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        monkeypatch.setattr("turnout_e2b.capabilities.embedded_confinement", lambda: False)
        capabilities = E2BBackend(BackendSettings(environment="test")).capabilities
        assert (capabilities.network_access, capabilities.code_runs_as_worker_user) == (True, True)

    def test_endpoint_names_the_local_server(self, e2b_url: str) -> None:
        """Reports can say which endpoint executions went to."""
        assert e2b_url in backend().endpoint

    def test_capabilities_at_a_local_server_are_processes_without_a_memory_limit(
        self, e2b_url: str
    ) -> None:
        """Against the local E2B-compatible server (an api_url without a key), the instance
        declares what that server does: kernels are processes of its host, memory not limited,
        and (started apart, so not known to be confined) code as reaching what it can."""
        capabilities = backend().capabilities
        assert (capabilities.isolation, capabilities.memory_enforcement) == ("process", "none")
        assert (capabilities.network_access, capabilities.code_runs_as_worker_user) == (True, True)

    def test_the_embedded_server_is_the_declared_endpoint(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """In development without a key or URL, the embedded local server is declared."""
        monkeypatch.delenv("E2B_API_URL", raising=False)
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        instance = E2BBackend(BackendSettings(environment="development"))
        assert "local E2B-compatible server" in instance.endpoint
        assert instance.capabilities.memory_enforcement == "none"

    def test_capabilities_at_e2b_are_microvms(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With an API key, calls go to E2B: Firecracker microVMs that bound memory."""
        monkeypatch.delenv("E2B_API_URL", raising=False)
        monkeypatch.setenv("E2B_API_KEY", "e2b_placeholder_for_capabilities_test")
        capabilities = E2BBackend(BackendSettings(environment="production")).capabilities
        assert (capabilities.isolation, capabilities.memory_enforcement) == (
            "microvm",
            "sandbox",
        )

    @pytest.mark.parametrize("with_key", [False, True])
    def test_typescript_is_never_declared(
        self, monkeypatch: pytest.MonkeyPatch, with_key: bool
    ) -> None:
        """turnout refuses typescript nodes, so no instance declares TypeScript support."""
        if with_key:
            monkeypatch.setenv("E2B_API_KEY", "e2b_placeholder_for_capabilities_test")
        assert backend().capabilities.supports_typescript is False

    @pytest.mark.parametrize("with_key", [False, True])
    def test_endpoint_never_repeats_credentials_in_the_url(
        self, monkeypatch: pytest.MonkeyPatch, with_key: bool
    ) -> None:
        """Userinfo and query values of api_url are redacted in the endpoint label."""
        monkeypatch.delenv("E2B_API_URL", raising=False)
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        if with_key:
            monkeypatch.setenv("E2B_API_KEY", "e2b_placeholder_for_label_test")
        label = backend(api_url="https://user:hunter2pw@proxy.example/e2b?token=tok99").endpoint
        assert "proxy.example/e2b" in label
        assert "hunter2pw" not in label
        assert "tok99" not in label


def live_ids(server: ServerProcess) -> set[str]:
    return {sandbox["sandboxID"] for sandbox in server.stats()["sandboxes"]}


async def eventually(condition: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    """Poll until `condition` holds; fail (naming `what`) only if it never does."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for: {what}")
        await asyncio.sleep(0.05)


class TestHotReload:
    async def test_reload_mid_flight_drains_the_old_instance_and_kills_its_sandboxes(
        self, e2b_server: ServerProcess, tmp_path: Path
    ) -> None:
        """output_cap_bytes and pool_size edited while an execution runs: it finishes on the
        old instance with the old cap, the next one gets the new cap, and every sandbox of
        the old instance, its warm pool included, is killed once it has drained."""
        path = tmp_path / "flags.toml"
        flags = (
            'schema_version = 1\n[environments.test]\nstage = "complete"\n'
            "[environments.test.backends.e2b]\noutput_cap_bytes = {cap}\npool_size = {pool}\n"
        )
        path.write_text(flags.format(cap=1024, pool=1))
        engine = Engine("test", flags_path=path, check_interval=0)
        code = "import time\ntime.sleep({sleep})\nprint('x' * 3000)\nreturn 1"

        async def execute(sleep: float) -> Envelope:
            node = parse_config({"language": "python", "code": code.format(sleep=sleep)})
            return await engine.execute(node, {})

        try:
            old: Any = engine.backend("e2b")
            running = asyncio.create_task(execute(2))
            await eventually(
                lambda: (
                    getattr(old, "in_flight", 1) == 1
                    and old.pool is not None
                    and old.pool.idle == 1
                ),
                "the execution to run and the old pool to fill",
            )
            old_sandboxes = live_ids(e2b_server)
            assert len(old_sandboxes) == 2
            path.write_text(flags.format(cap=2048, pool=0))
            os.utime(path, (time.time() + 5, time.time() + 5))
            after = await execute(0)
            assert after.stdout.endswith("[turnout: stdout truncated at 2048 bytes]")
            assert after.metadata.sandbox_id not in old_sandboxes
            before = await running
            assert before.stdout.endswith("[turnout: stdout truncated at 1024 bytes]")
            assert before.metadata.sandbox_id in old_sandboxes
            await eventually(lambda: bool(old.closed), "the old instance to close")
            await eventually(
                lambda: not live_ids(e2b_server) & old_sandboxes, "the old sandboxes to go"
            )
        finally:
            await engine.aclose()
        assert live_ids(e2b_server) == set()
