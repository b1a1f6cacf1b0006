"""Inputs named like a global the runtime itself uses: they shadow the global for the user's
code, never for turnout's runtime, on local-subprocess (real interpreters)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from turnout import CodeExecutionError, execute_code_node
from turnout.conformance.cases import load_cases
from turnout.contract.program import prepare_request
from turnout.models import parse_config

from .support import javascript_globals, python_builtins

BACKEND = "local-subprocess"
SHADOWED = "an input, not the global"
NAMES = {"javascript": javascript_globals(), "python": python_builtins()}


async def run(language: str, code: str, context: dict[str, Any]) -> dict[str, Any]:
    node = {"language": language, "code": code}
    return await execute_code_node(node, context, backend=BACKEND)


async def failure(language: str, code: str, context: dict[str, Any]) -> CodeExecutionError:
    with pytest.raises(CodeExecutionError) as caught:
        await run(language, code, context)
    return caught.value


def every_name(language: str) -> dict[str, str]:
    return dict.fromkeys(NAMES[language], SHADOWED)


def test_the_javascript_list_holds_the_globals_of_the_reported_failures() -> None:
    """The derived list holds the globals whose shadowing broke the runtime (JSON, Object,
    Symbol), so the derivation itself is not vacuous."""
    assert {"JSON", "Object", "Symbol", "process", "globalThis"} <= set(javascript_globals())


def test_the_python_list_holds_the_builtins_the_runtime_calls() -> None:
    """The derived list holds built-ins the Python runtime calls (isinstance, len, open)."""
    assert {"isinstance", "len", "open", "__turnout_import_star__"} <= set(python_builtins())


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_each_runtime_global_as_an_input_leaves_the_runtime_working(language: str) -> None:
    """With an input named like any one of the names, a node still returns its output."""

    async def broken(name: str) -> str | None:
        try:
            envelope = await run(language, "return inputs", {name: SHADOWED})
        except CodeExecutionError as error:
            return f"{name}: {error.message} {error.stderr[-300:]}"
        return None if envelope["output"] == {name: SHADOWED} else f"{name}: {envelope}"

    found = await asyncio.gather(*(broken(name) for name in NAMES[language]))
    assert [problem for problem in found if problem] == []


@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_every_runtime_global_shadowed_at_once_still_converts_the_output(
    language: str,
) -> None:
    """All the names as inputs at once: the output still comes back, with its channel."""
    envelope = await run(language, "return inputs", every_name(language))
    assert (envelope["output"], envelope["metadata"]["outputChannel"]) == (
        every_name(language),
        "return",
    )


@pytest.mark.parametrize(
    ("language", "code"),
    [("python", "x = None\nreturn x.y"), ("javascript", "const x = null;\nreturn x.y;")],
)
async def test_a_runtime_error_is_still_classified_with_every_global_shadowed(
    language: str, code: str
) -> None:
    """A failing node is still a `runtime` error at the user's line, not a runtime crash."""
    error = await failure(language, code, every_name(language))
    assert (error.kind, error.line) == ("runtime", 2)
    assert "turnout" not in error.stderr


@pytest.mark.parametrize(
    ("language", "code"),
    [("python", "x = 1\nreturn x +"), ("javascript", "const x = 1;\nreturn x +")],
)
async def test_a_syntax_error_is_still_classified_with_every_global_shadowed(
    language: str, code: str
) -> None:
    """Compiling the user's code does not use a shadowed global either."""
    error = await failure(language, code, every_name(language))
    assert (error.kind, error.line) == ("syntax", 2)


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "a = []\na.append(a)\nreturn a"),
        ("javascript", "const a = [];\na.push(a);\nreturn a;"),
    ],
)
async def test_an_unconvertible_output_is_still_named_with_every_global_shadowed(
    language: str, code: str
) -> None:
    """The converter's own error path (circular output) keeps working too."""
    error = await failure(language, code, every_name(language))
    assert error.kind == "output_not_serializable"
    assert "output[0]" in error.message


@pytest.mark.parametrize("language", ["python", "javascript"])
@pytest.mark.parametrize(
    "case_id",
    ["inputs.runtime-globals-as-input-keys", "inputs.runtime-globals-as-input-keys-error"],
)
def test_the_conformance_suite_shadows_every_runtime_global(language: str, case_id: str) -> None:
    """Conformance cases run every name as an input on every backend; a new global the
    runtime starts to use fails here until the cases list it."""
    [case] = load_cases(themes=["inputs"], case_ids=[f"{case_id}.{language}"])
    assert sorted(set(NAMES[language]) - set(case.context)) == []


def test_a_notebook_kernel_gets_its_globals_back_after_the_code(tmp_path: Path) -> None:
    """In a kernel (no script file), the globals the inputs replaced are restored once the
    outcome is written: the kernel's own code runs in the same global scope afterwards."""
    node = shutil.which("node")
    assert node is not None
    names = [name for name in javascript_globals() if name != "undefined"]
    request = prepare_request(
        parse_config({"language": "javascript", "code": "return inputs.JSON"}),
        dict.fromkeys(names, SHADOWED),
        execution_id="kernel",
        max_result_bytes=1 << 20,
    )
    # Node's --eval runs the program as a kernel does: no script file, one global scope.
    program = request.program.rstrip().removesuffix(";")
    report = "typeof JSON.stringify + ' ' + typeof Object.keys + ' ' + typeof inputs"
    completed = subprocess.run(
        [node, "--eval", f"{program}.then(() => process.stdout.write({report}));"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.stdout == "function function undefined", completed.stderr
    assert json.loads((tmp_path / request.result_path).read_text())["value"] == SHADOWED
