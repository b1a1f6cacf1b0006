"""The e2b backend's `packages` capability: the template's as configured, or the local
server's kernels' own, and the local server's declaration checked against its kernels."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from e2b_code_interpreter import AsyncSandbox
from turnout_e2b import E2BBackend
from turnout_e2b.packages import (
    NODE_BUILTINS,
    TEMPLATE_PYTHON_PACKAGES,
    local_server_packages,
    python_stdlib,
)
from turnout_e2b_server.testing import ServerProcess

from turnout.backend import BackendSettings
from turnout.packages import PYTHON_PROBE

# The probes' own programs, run as cells in a sandbox of the local server.
NODE_CELL = """
const Module = require('module'); const fs = require('fs'); const path = require('path');
const names = new Set(Module.builtinModules);
const entries = (dir) => { try { return fs.readdirSync(dir); } catch (e) { return []; } };
for (const dir of Module.globalPaths) {
  for (const name of entries(dir)) if (!name.startsWith('.')) names.add(name);
}
const fails = (n) => { try { require(n); return false; } catch (e) { return true; } };
const missing = [...names].filter(fails);
console.log(JSON.stringify({names: [...names].sort(), missing}));
"""


def _backend(monkeypatch: pytest.MonkeyPatch, **options: object) -> E2BBackend:
    return E2BBackend(BackendSettings(environment="test", options=options))


def test_defaults_are_the_code_interpreter_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """Against a configured server, the declaration is code-interpreter-v1's: pandas and
    requests in Python, Node's built-ins and no npm package in JavaScript."""
    monkeypatch.setenv("E2B_API_URL", "http://127.0.0.1:9")
    packages = _backend(monkeypatch).capabilities.packages
    assert {"pandas", "numpy", "requests", "bs4", "json", "datetime"} <= packages["python"]
    assert packages["python"] == python_stdlib() | set(TEMPLATE_PYTHON_PACKAGES)
    assert packages["javascript"] == NODE_BUILTINS
    assert "lodash" not in packages["javascript"]


def test_options_state_a_custom_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python_packages` and `javascript_packages` replace the template's lists."""
    monkeypatch.setenv("E2B_API_URL", "http://127.0.0.1:9")
    backend = _backend(monkeypatch, python_packages=["polars"], javascript_packages=["lodash"])
    packages = backend.capabilities.packages
    assert "polars" in packages["python"]
    assert "pandas" not in packages["python"]
    assert {"lodash", "fs"} <= packages["javascript"]


def test_embedded_server_declares_its_kernels_interpreters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no key and no URL in `test`, executions go to the embedded local server, so the
    declaration is that server's (no pandas here), not the cloud template's."""
    monkeypatch.delenv("E2B_API_URL", raising=False)
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    packages = _backend(monkeypatch).capabilities.packages
    assert packages == local_server_packages()
    assert "pandas" not in packages["python"]
    assert "pydantic" in packages["python"]


def test_node_builtins_are_those_of_the_node_here() -> None:
    """Every built-in the template's Node 20 is declared with is a built-in of this Node."""
    node = shutil.which("node")
    assert node is not None
    listed = subprocess.run(
        [node, "-e", "console.log(JSON.stringify(require('module').builtinModules))"],
        capture_output=True,
        check=True,
        text=True,
    )
    assert set(json.loads(listed.stdout)) >= NODE_BUILTINS


async def test_local_server_declaration_is_what_its_kernels_have(
    e2b_server: ServerProcess,
) -> None:
    """The local server's declared modules are exactly what its Python kernel finds, and
    its Node kernel requires every one it declares."""
    declared = local_server_packages()
    sandbox = await AsyncSandbox.create(**e2b_server.sdk_options)
    try:
        python = await sandbox.run_code(PYTHON_PROBE)
        assert python.error is None, python.error
        assert set(json.loads("".join(python.logs.stdout))) == declared["python"]
        javascript = await sandbox.run_code(NODE_CELL, language="js")
        assert javascript.error is None, javascript.error
        seen = json.loads("".join(javascript.logs.stdout))
        assert set(seen["names"]) == declared["javascript"]
        assert seen["missing"] == []
    finally:
        await sandbox.kill()


def test_the_default_packages_are_documented() -> None:
    """Every default Python package is listed in docs/backends/e2b.md's Packages section."""
    docs = Path(__file__).resolve().parents[3] / "docs" / "backends" / "e2b.md"
    section = docs.read_text(encoding="utf-8").split("### Packages")[1].split("\n## ")[0]
    assert [name for name in TEMPLATE_PYTHON_PACKAGES if f"`{name}`" not in section] == []
