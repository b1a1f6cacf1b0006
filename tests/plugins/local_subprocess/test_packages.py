"""The local-subprocess backend's `packages` capability is what its programs can import."""

from __future__ import annotations

import json

from turnout_local_subprocess import LocalSubprocessBackend

from .support import run

PYTHON_CHECK = """
import importlib.util, json
names = json.load(open('names.json'))
missing = [n for n in names if importlib.util.find_spec(n) is None]
print(json.dumps(missing))
"""
NODE_CHECK = """
const names = JSON.parse(require('fs').readFileSync('names.json', 'utf8'));
const fails = (n) => { try { require(n); return false; } catch (e) { return true; } };
const missing = names.filter(fails);
console.log(JSON.stringify(missing));
"""


async def _missing(backend: LocalSubprocessBackend, language: str, names: list[str]) -> list[str]:
    program = PYTHON_CHECK if language == "python" else NODE_CHECK
    result = await run(
        backend,
        language,  # type: ignore[arg-type]
        program,
        files={"names.json": json.dumps(names).encode()},
    )
    assert result.exit_code == 0, result.stderr
    missing: list[str] = json.loads(result.stdout.splitlines()[-1])
    return missing


async def test_every_declared_python_module_is_found_by_a_program(
    backend: LocalSubprocessBackend,
) -> None:
    """Each Python module the backend declares is found by a program it runs."""
    declared = sorted(backend.capabilities.packages["python"])
    assert {"json", "datetime", "urllib"} <= set(declared)
    assert await _missing(backend, "python", declared) == []


async def test_every_declared_node_module_is_required_by_a_program(
    backend: LocalSubprocessBackend,
) -> None:
    """Each JavaScript module the backend declares can be required by a program it runs."""
    declared = sorted(backend.capabilities.packages["javascript"])
    assert {"fs", "fs/promises", "crypto"} <= set(declared)
    assert await _missing(backend, "javascript", declared) == []


async def test_an_undeclared_module_does_not_import(backend: LocalSubprocessBackend) -> None:
    """`lodash` and `pandas` are not declared, and a program cannot import them either."""
    assert "lodash" not in backend.capabilities.packages["javascript"]
    assert "pandas" not in backend.capabilities.packages["python"]
    assert await _missing(backend, "javascript", ["lodash"]) == ["lodash"]
    assert await _missing(backend, "python", ["pandas"]) == ["pandas"]
