"""The code-node contract, end to end through the public API on the local-subprocess backend.

These tests run real interpreters. Behaviours shared by both languages are parametrized
with the same node written in each language.
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil
import pytest

from turnout import (
    CodeExecutionError,
    ValidationError,
    execute_code_node,
    execute_code_node_sync,
)

BACKEND = "local-subprocess"


async def run(
    language: str, code: str, context: dict[str, Any] | None = None, **config: Any
) -> dict[str, Any]:
    node = {"language": language, "code": code, **config}
    return await execute_code_node(node, context or {}, backend=BACKEND)


async def output(
    language: str, code: str, context: dict[str, Any] | None = None, **config: Any
) -> Any:
    return (await run(language, code, context, **config))["output"]


async def failure(
    language: str, code: str, context: dict[str, Any] | None = None, **config: Any
) -> CodeExecutionError:
    with pytest.raises(CodeExecutionError) as caught:
        await run(language, code, context, **config)
    return caught.value


def both(python: str, javascript: str) -> Any:
    return pytest.mark.parametrize(
        ("language", "code"),
        [("python", python), ("javascript", javascript)],
        ids=["python", "javascript"],
    )


class TestInputs:
    @both("return data['value'] * 2", "return data.value * 2")
    async def test_context_keys_are_bare_globals(self, language: str, code: str) -> None:
        """Each selected context key is readable as a global of the same name."""
        assert await output(language, code, {"data": {"value": 21}}) == 42

    @both("return inputs['data']['value']", "return inputs.data.value")
    async def test_inputs_mapping_holds_the_selected_keys(self, language: str, code: str) -> None:
        """The `inputs` mapping gives the same values as the globals."""
        assert await output(language, code, {"data": {"value": 7}}) == 7

    @both("return inputs", "return inputs")
    async def test_context_key_named_inputs_wins(self, language: str, code: str) -> None:
        """A context key called `inputs` replaces the injected mapping."""
        assert await output(language, code, {"inputs": [1, 2]}) == [1, 2]

    @both("return sorted(inputs)", "return Object.keys(inputs).sort()")
    async def test_input_variables_select_only_listed_present_keys(
        self, language: str, code: str
    ) -> None:
        """Only listed keys reach the code, and listed keys missing from the context are absent."""
        context = {"a": 1, "b": 2, "c": 3}
        assert await output(language, code, context, inputVariables=["a", "c", "zz"]) == ["a", "c"]

    @both("return inputs['first name']", "return inputs['first name']")
    async def test_non_identifier_keys_are_reachable_through_inputs(
        self, language: str, code: str
    ) -> None:
        """A key that cannot be a variable name still arrives through `inputs`."""
        assert await output(language, code, {"first name": "Ada"}) == "Ada"

    @both("return text", "return text")
    async def test_hostile_text_arrives_byte_exact(self, language: str, code: str) -> None:
        """Newlines, quotes, backslashes, triple quotes, NUL and emoji survive the trip in."""
        text = "line1\nline2 \"double\" 'single' ''' \\ \\n \x00 é 中 😀 </script>"
        assert await output(language, code, {"text": text}) == text

    @both("return len(records)", "return records.length")
    async def test_large_context_travels_as_a_file(self, language: str, code: str) -> None:
        """A context far above the inline limit (about 3 MB) reaches the code whole."""
        records = [{"id": index, "name": "x" * 90} for index in range(30_000)]
        assert await output(language, code, {"records": records}) == 30_000


class TestOutputPrecedence:
    @both("result = 1\nif True:\n    return 2\n3", "result = 1;\nif (true) { return 2 }\n3")
    async def test_return_beats_result_and_last_expression(self, language: str, code: str) -> None:
        """A top-level return decides the output even when result and an expression exist."""
        envelope = await run(language, code)
        assert (envelope["output"], envelope["metadata"]["outputChannel"]) == (2, "return")

    @both("result = 'r'\n'last'", "let result = 'r';\n'last'")
    async def test_result_beats_last_expression(self, language: str, code: str) -> None:
        """An assigned `result` wins over the last bare expression."""
        envelope = await run(language, code)
        assert (envelope["output"], envelope["metadata"]["outputChannel"]) == ("r", "result")

    @both("x = 20\nx + 1", "const x = 20;\nx + 1")
    async def test_last_expression_is_the_fallback(self, language: str, code: str) -> None:
        """Without return or result, the last bare expression's value is the output."""
        envelope = await run(language, code)
        assert (envelope["output"], envelope["metadata"]["outputChannel"]) == (21, "last")

    @both("print('hi')", "console.log('hi')")
    async def test_no_output_is_null(self, language: str, code: str) -> None:
        """Code that produces nothing has output null (a print is not an output)."""
        envelope = await run(language, code)
        assert (envelope["output"], envelope["metadata"]["outputChannel"]) == (None, "none")

    @both("print(result)", "console.log(result)")
    async def test_input_named_result_does_not_leak(self, language: str, code: str) -> None:
        """An input called `result` that the code only reads is not the output."""
        assert await output(language, code, {"result": {"secret": 1}}) is None

    @both("result = 5", "result = 5")
    async def test_assigning_result_equal_to_the_input_still_counts(
        self, language: str, code: str
    ) -> None:
        """Assigning `result` the same value as the input named `result` is an assignment."""
        assert await output(language, code, {"result": 5}) == 5

    @both(
        "if False:\n    return 1\nresult = 'fell through'",
        "if (false) { return 1 }\nresult = 'fell through'",
    )
    async def test_untaken_return_falls_through(self, language: str, code: str) -> None:
        """A return that does not run leaves the decision to the later channels."""
        assert await output(language, code) == "fell through"

    async def test_python_top_level_await(self) -> None:
        """Python code may await at the top level, as it can in a notebook."""
        code = "import asyncio\nawait asyncio.sleep(0)\nreturn 'awaited'"
        assert await output("python", code) == "awaited"

    async def test_javascript_last_expression_promise_is_awaited(self) -> None:
        """A JavaScript last expression that is a Promise contributes its resolved value."""
        assert await output("javascript", "Promise.resolve(42)") == 42

    async def test_python_module_semantics_are_kept(self) -> None:
        """Functions see and change module globals, as in a normal script."""
        code = (
            "total = 0\ndef add(v):\n    global total\n    total += v\n"
            "for n in numbers:\n    add(n)\ntotal"
        )
        assert await output("python", code, {"numbers": [1, 2, 3]}) == 6


class TestConversion:
    async def test_python_values_convert_by_the_documented_rules(self) -> None:
        """Tuples, sets, dates, Decimal, NaN and 3.0 convert as docs/contract.md says."""
        code = (
            "import datetime, decimal\n"
            "return {'t': (1, 2), 's': {3, 1, 2}, 'd': datetime.date(2024, 1, 2),"
            " 'dt': datetime.datetime(2024, 1, 2, 3, 4, 5), 'dec': decimal.Decimal('1.5'),"
            " 'whole': decimal.Decimal('12'), 'nan': float('nan'), 'f': 3.0, 1: 'int key'}"
        )
        assert await output("python", code) == {
            "t": [1, 2],
            "s": [1, 2, 3],
            "d": "2024-01-02",
            "dt": "2024-01-02T03:04:05",
            "dec": 1.5,
            "whole": 12,
            "nan": None,
            "f": 3.0,
            "1": "int key",
        }

    async def test_javascript_values_convert_like_json_stringify(self) -> None:
        """Dates become ISO strings, undefined members vanish, NaN becomes null."""
        code = "return {d: new Date(0), u: undefined, n: NaN, a: [undefined, 1]}"
        assert await output("javascript", code) == {
            "d": "1970-01-01T00:00:00.000Z",
            "n": None,
            "a": [None, 1],
        }

    @both("return {'items': [1, object()]}", "return {items: [1, 10n]}")
    async def test_unconvertible_value_names_type_and_path(self, language: str, code: str) -> None:
        """A value JSON cannot carry is an error naming its type and where it is."""
        error = await failure(language, code)
        assert error.kind == "output_not_serializable"
        assert 'output["items"][1]' in error.message

    @both("return 123456789012345", "return 123456789012345")
    async def test_large_safe_integers_survive(self, language: str, code: str) -> None:
        """Integers within JavaScript's safe range come back exact in both languages."""
        assert await output(language, code) == 123456789012345


class TestErrors:
    @both("x = 1\n\ndef broken(:\n    pass", "const x = 1;\n\nlet = = 2;\nx")
    async def test_syntax_error_reports_the_users_line(self, language: str, code: str) -> None:
        """A syntax error is kind `syntax` with the line counted in the user's code."""
        error = await failure(language, code)
        assert (error.kind, error.line) == ("syntax", 3)

    @both("x = 1\nitems = [1,\n", "const x = 1;\nconst items = [1,\n")
    async def test_unterminated_code_points_at_its_last_line(
        self, language: str, code: str
    ) -> None:
        """Code that ends mid-construct reports a line inside the user's code, never beyond it."""
        error = await failure(language, code)
        assert error.kind == "syntax"
        assert error.line is not None
        assert 1 <= error.line <= 3

    @both(
        "x = 1\nprint('before')\nraise ValueError('boom')",
        "const x = 1;\nconsole.log('before');\nthrow new TypeError('boom');",
    )
    async def test_runtime_error_carries_line_and_prior_output(
        self, language: str, code: str
    ) -> None:
        """A runtime error has the user's line, the message, and what was printed before it."""
        error = await failure(language, code)
        assert (error.kind, error.line, error.stdout) == ("runtime", 3, "before\n")
        assert "boom" in error.message
        assert error.retryable is False

    @both("import lodash", "const _ = require('lodash');")
    async def test_missing_module_is_an_import_error(self, language: str, code: str) -> None:
        """A module the backend does not have is a clear `import` error naming it."""
        error = await failure(language, code)
        assert error.kind == "import"
        assert "lodash" in error.message

    async def test_javascript_thrown_non_error_value(self) -> None:
        """Throwing a plain value is a runtime error that shows the value."""
        error = await failure("javascript", "throw {code: 42}")
        assert (error.kind, error.name) == ("runtime", "ThrownValue")
        assert "42" in error.message

    @both("import sys\nsys.exit(0)", "process.exit(0)")
    async def test_exit_zero_ends_with_null(self, language: str, code: str) -> None:
        """A successful exit ends the code normally with output null."""
        assert await output(language, code) is None

    @both("import sys\nsys.exit(3)", "process.exit(3)")
    async def test_exit_nonzero_is_a_runtime_error(self, language: str, code: str) -> None:
        """A failing exit status is a runtime error mentioning the status."""
        error = await failure(language, code)
        assert error.kind == "runtime"
        assert "3" in error.message

    async def test_bad_config_is_a_validation_error_naming_the_field(self) -> None:
        """An invalid stored config never reaches a backend."""
        with pytest.raises(ValidationError) as caught:
            await run("python", "return 1", timeout=0)
        assert caught.value.field == "timeout"

    async def test_label_of_the_wrong_type_is_a_validation_error_naming_it(self) -> None:
        """A label value that is not text is refused in turnout's words, naming the label."""
        node = {"language": "python", "code": "return 1"}
        with pytest.raises(ValidationError) as caught:
            await execute_code_node(node, {}, backend=BACKEND, labels={"tenant": 5})  # type: ignore[dict-item]
        assert caught.value.field == "labels.tenant"
        assert caught.value.problem == "must be a string, not an integer"
        assert "pydantic" not in caught.value.message


class TestTimeout:
    @pytest.mark.timing
    @both("while True:\n    pass", "while (true) {}")
    async def test_busy_loop_times_out_promptly(self, language: str, code: str) -> None:
        """A busy loop with a 1000 ms timeout ends as `timeout` within 1.5 s."""
        started = time.monotonic()
        error = await failure(language, code, timeout=1000)
        assert error.kind == "timeout"
        assert time.monotonic() - started < 1.5

    async def test_javascript_await_that_never_resolves_times_out(self) -> None:
        """An await on a Promise that never settles is bounded like a busy loop."""
        error = await failure("javascript", "await new Promise(() => {});", timeout=1000)
        assert error.kind == "timeout"

    async def test_timeout_leaves_no_process_behind(self, tmp_path: Any) -> None:
        """A timed-out node's grandchild (which ignores SIGTERM) does not survive."""
        marker = f"turnout-grandchild-{os.getpid()}-{time.time_ns()}"
        code = (
            "import subprocess, sys\n"
            "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)', "
            f"'{marker}'])\n"
            "while True:\n    pass"
        )
        error = await failure("python", code, timeout=1000)
        assert error.kind == "timeout"
        survivors = [
            p
            for p in psutil.process_iter(["cmdline"])
            if marker in " ".join(p.info["cmdline"] or [])
        ]
        assert survivors == []


class TestEnvelope:
    async def test_envelope_has_the_legacy_shape(self) -> None:
        """The envelope carries language, output, stdout, stderr, logs and metadata."""
        code = "import sys\nprint('out')\nprint('err', file=sys.stderr)\nreturn 1"
        envelope = await run("python", code)
        assert envelope["language"] == "python"
        assert (envelope["stdout"], envelope["stderr"]) == ("out\n", "err\n")
        assert envelope["logs"] == ["out", "ERROR: err"]
        assert envelope["metadata"]["backend"] == BACKEND
        assert isinstance(envelope["metadata"]["executionTime"], int)

    async def test_output_variable_wraps_the_envelope(self) -> None:
        """With outputVariable the whole envelope is returned under that name."""
        wrapped = await run("javascript", "return 1", outputVariable="summary")
        assert list(wrapped) == ["summary"]
        assert wrapped["summary"]["output"] == 1

    async def test_unknown_config_fields_are_reported_not_used(self) -> None:
        """A stored field turnout does not know appears in metadata.warnings."""
        envelope = await run("python", "return 1", memoryLimit=256)
        assert any("memoryLimit" in note for note in envelope["metadata"]["warnings"])

    async def test_output_printed_after_the_result_stays_in_stdout(self) -> None:
        """Text printed after `result` is set is stdout, not part of the output."""
        envelope = await run("python", "result = 'done'\nprint('after')")
        assert (envelope["output"], envelope["stdout"]) == ("done", "after\n")

    def test_sync_twin_returns_the_same_envelope_shape(self) -> None:
        """execute_code_node_sync works without an event loop."""
        envelope = execute_code_node_sync(
            {"language": "python", "code": "return 2"}, {}, backend=BACKEND
        )
        assert envelope["output"] == 2


class TestIsolation:
    @both(
        "import os\nreturn [os.environ.get('E2B_API_KEY'), os.environ.get('TURNOUT_CANARY'),"
        " open('/proc/self/environ', 'rb').read().count(b'CANARY')]",
        "const fs = require('fs');\nreturn [process.env.E2B_API_KEY ?? null,"
        " process.env.TURNOUT_CANARY ?? null,"
        " fs.readFileSync('/proc/self/environ', 'latin1').split('CANARY').length - 1]",
    )
    async def test_host_secrets_are_invisible(
        self, language: str, code: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Secrets planted in the host environment are not visible to user code."""
        monkeypatch.setenv("E2B_API_KEY", "e2b_planted_secret_value_123456")
        monkeypatch.setenv("TURNOUT_CANARY", "CANARY-value")
        assert await output(language, code) == [None, None, 0]

    @both(
        "import os\nopen('mine.txt', 'w').write('x')\nreturn sorted(os.listdir('.'))",
        "const fs = require('fs');\nfs.writeFileSync('mine.txt', 'x');\n"
        "return fs.readdirSync('.').sort()",
    )
    async def test_working_directory_is_fresh_each_time(self, language: str, code: str) -> None:
        """Files written by one execution are not there for the next."""
        first = await output(language, code)
        second = await output(language, code)
        assert first == second
        assert "mine.txt" in first
