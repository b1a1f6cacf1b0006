"""The `packages` capability's vocabulary and the interpreter probe."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from turnout.models import Capabilities, Language
from turnout.packages import (
    PYTHON_PROBE,
    ProbedPackages,
    interpreter_commands,
    module_root,
    probe,
    provides,
)

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent/turnout-test-home"}


@pytest.mark.parametrize(
    ("language", "specifier", "root"),
    [
        ("python", "xml.etree.ElementTree", "xml"),
        ("python", "pandas", "pandas"),
        ("javascript", "node:fs/promises", "fs"),
        ("javascript", "lodash/fp", "lodash"),
        ("javascript", "@scope/pkg/sub/path", "@scope/pkg"),
    ],
)
def test_module_root_names_what_a_declaration_lists(
    language: str, specifier: str, root: str
) -> None:
    """An imported module is judged by its top-level name or npm package name."""
    assert module_root(language, specifier) == root  # type: ignore[arg-type]


def test_provides_accepts_builtin_subpaths_and_refuses_the_undeclared() -> None:
    """`fs/promises` is provided by a declaration with `fs`; `lodash` is not provided without it."""
    declared = frozenset({"fs", "fs/promises", "path"})
    assert provides(declared, "javascript", "node:fs/promises")
    assert provides(declared, "javascript", "fs/promises")
    assert not provides(declared, "javascript", "lodash")
    assert provides(frozenset({"os"}), "python", "os.path")
    assert not provides(frozenset({"os"}), "python", "pandas")


def test_probe_lists_what_python_and_node_import() -> None:
    """Python's answer has its standard library; Node's has its built-in modules."""
    node = shutil.which("node")
    assert node is not None
    found = probe(interpreter_commands(sys.executable, node, isolated=True), env=ENV, cwd="/")
    assert {"json", "os", "asyncio"} <= found["python"]
    assert "winreg" not in found["python"]  # standard library, but not on this platform
    assert {"fs", "fs/promises", "http", "crypto"} <= found["javascript"]
    assert "lodash" not in found["javascript"]


def test_python_probe_finds_what_find_spec_finds() -> None:
    """The probe's answer is every stdlib module `importlib.util.find_spec` finds plus every
    top-level module on the path: what the interpreter can import, nothing else."""
    reference = (
        "import importlib.util, json, pkgutil, sys\n"
        "found = {n for n in sys.stdlib_module_names if importlib.util.find_spec(n)}\n"
        "print(json.dumps(sorted(found | {m.name for m in pkgutil.iter_modules()})))"
    )
    answers = [
        subprocess.run(
            [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for code in (reference, PYTHON_PROBE)
    ]
    assert json.loads(answers[1]) == json.loads(answers[0])


def test_probe_leaves_out_an_interpreter_that_cannot_answer() -> None:
    """A missing interpreter or one that prints no list declares nothing for its language."""
    found = probe(
        {
            "python": ["/nonexistent/python3", "-c", "pass"],
            "javascript": [sys.executable, "-c", "print('no')"],
        },
        env=ENV,
        cwd="/",
    )
    assert found == {}


class TestProbedPackages:
    @staticmethod
    def answering(marker: Path, names: list[str]) -> list[str]:
        """A probe command that leaves `marker` behind and answers `names`."""
        code = f"open({str(marker)!r}, 'w').close(); print({json.dumps(names)!r})"
        return [sys.executable, "-c", code]

    def test_nothing_is_probed_until_the_declaration_is_read(self, tmp_path: Path) -> None:
        """Making the declaration starts no interpreter."""
        marker = tmp_path / "python-ran"
        ProbedPackages({"python": self.answering(marker, ["json"])}, env=ENV, cwd="/")
        assert not marker.exists()

    def test_looking_one_language_up_probes_that_language_only(self, tmp_path: Path) -> None:
        """`packages["python"]` asks the Python interpreter, not Node's."""
        commands: dict[Language, list[str]] = {
            "python": self.answering(tmp_path / "python-ran", ["json", "os"]),
            "javascript": self.answering(tmp_path / "node-ran", ["fs"]),
        }
        packages = ProbedPackages(commands, env=ENV, cwd="/")
        assert packages["python"] == frozenset({"json", "os"})
        assert (tmp_path / "python-ran").exists()
        assert not (tmp_path / "node-ran").exists()

    def test_listing_asks_every_interpreter_and_leaves_out_the_silent(self, tmp_path: Path) -> None:
        """Iterating lists the languages whose interpreter answered; a failed one is not
        declared (a KeyError on lookup)."""
        commands: dict[Language, list[str]] = {
            "python": self.answering(tmp_path / "python-ran", ["json"]),
            "javascript": ["/nonexistent/node", "-e", "1"],
        }
        packages = ProbedPackages(commands, env=ENV, cwd="/")
        assert dict(packages) == {"python": frozenset({"json"})}
        with pytest.raises(KeyError):
            packages["javascript"]

    def test_a_capabilities_dump_lists_it(self, tmp_path: Path) -> None:
        """Capabilities holding a ProbedPackages dump it as sorted lists per language."""
        packages = ProbedPackages(
            {"python": self.answering(tmp_path / "ran", ["os", "json"])}, env=ENV, cwd="/"
        )
        capabilities = Capabilities(
            languages=frozenset({"python"}),
            isolation="process",
            network_access=False,
            max_timeout_ms=1000,
            max_output_bytes=1,
            max_result_bytes=1,
            memory_limit_mb=None,
            memory_enforcement="none",
        ).model_copy(update={"packages": packages})
        assert capabilities.model_dump(mode="json")["packages"] == {"python": ["json", "os"]}
