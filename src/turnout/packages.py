"""What user code can import on a backend: the `packages` capability, and how to find it out.

A backend declares, per language, the top-level modules its code can import
(`Capabilities.packages`): Python import names (`json`, `pandas`, `yaml`), and for
JavaScript Node's built-in module names (`fs`, `fs/promises`) and npm package names
(`lodash`, `@scope/name`). `turnout audit` checks every `import` / `require` of a node
against the target's declaration, so the declaration must be what really imports.

Backends that run a local interpreter find it out by asking the interpreter (`probe`): for
Python the names of `sys.stdlib_module_names` it finds (a Linux interpreter has no
`winreg`) plus every top-level module on its `sys.path`; for Node
`require('module').builtinModules` plus the packages in its global folders
(`Module.globalPaths`: `$HOME/.node_modules`, `$PREFIX/lib/node`, ...). A probe runs once per
process and command, because interpreters do not change under a running worker, and only
when the declaration is read (`ProbedPackages`): running code never needs it, so a process
that executes nodes and never audits starts no probe.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence

from turnout.logging import get_logger
from turnout.models import Language

__all__ = [
    "NODE_PROBE",
    "PYTHON_PROBE",
    "ProbedPackages",
    "interpreter_commands",
    "module_root",
    "probe",
    "provides",
]

log = get_logger("turnout.packages")

PROBE_TIMEOUT_S = 20.0
#: `sys.stdlib_module_names` the interpreter has (on its path, built in or frozen) plus every
#: top-level module on its path. The same answer as `importlib.util.find_spec` on each
#: stdlib name, without its cost (a path search per name: four times the whole probe).
PYTHON_PROBE = (
    "import json, pkgutil, sys\n"
    "from importlib.machinery import FrozenImporter\n"
    "on_path = {m.name for m in pkgutil.iter_modules()}\n"
    "found = {n for n in sys.stdlib_module_names if n in on_path\n"
    "         or n in sys.builtin_module_names or FrozenImporter.find_spec(n) is not None}\n"
    "print(json.dumps(sorted(found | on_path)))"
)
NODE_PROBE = r"""
const Module = require('module'); const fs = require('fs'); const path = require('path');
const names = new Set(Module.builtinModules);
const entries = (dir) => { try { return fs.readdirSync(dir); } catch (e) { return []; } };
for (const dir of Module.globalPaths) {
  for (const name of entries(dir)) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) {
      for (const inner of entries(path.join(dir, name))) names.add(name + '/' + inner);
    } else {
      names.add(name.replace(/\.(js|json|node)$/, ''));
    }
  }
}
process.stdout.write(JSON.stringify([...names].sort()));
"""


def module_root(language: Language, specifier: str) -> str:
    """The name a declaration lists for an imported module: `a.b.c` -> `a` (Python);
    `node:fs/promises` -> `fs`, `lodash/fp` -> `lodash`, `@s/p/x` -> `@s/p` (JavaScript)."""
    if language == "python":
        return specifier.split(".")[0]
    name = specifier.removeprefix("node:")
    parts = name.split("/")
    return "/".join(parts[:2]) if name.startswith("@") else parts[0]


def provides(declared: frozenset[str], language: Language, specifier: str) -> bool:
    """Whether a backend declaring `declared` can import `specifier`."""
    if language == "javascript" and specifier.removeprefix("node:") in declared:
        return True
    return module_root(language, specifier) in declared


def probe(
    commands: Mapping[Language, Sequence[str]],
    *,
    env: Mapping[str, str],
    cwd: str,
) -> dict[Language, frozenset[str]]:
    """Ask each interpreter what it can import, all at once; a command that fails is left
    out (that language is then not declared) and logged. Answers are kept per command."""
    frozen_env = tuple(sorted(env.items()))
    keys = {language: (tuple(argv), frozen_env, cwd) for language, argv in commands.items()}
    with _lock:
        started = {key: _start(key) for key in set(keys.values()) if key not in _answers}
        for key, process in started.items():
            _answers[key] = _collect(key[0], process)
        found = {language: _answers[key] for language, key in keys.items()}
    return {language: names for language, names in found.items() if names is not None}


class ProbedPackages(Mapping[Language, frozenset[str]]):
    """A `packages` declaration found out by `probe` when it is first read: looking one
    language up asks that language's interpreter only; listing the declaration (iterating,
    `len`, `items`, a dump) asks every interpreter. Languages whose interpreter did not
    answer are not in it. Answers are `probe`'s, kept per process."""

    def __init__(
        self, commands: Mapping[Language, Sequence[str]], *, env: Mapping[str, str], cwd: str
    ) -> None:
        self._commands = {language: list(argv) for language, argv in commands.items()}
        self._env = dict(env)
        self._cwd = cwd

    def _probe(self, languages: Sequence[Language]) -> dict[Language, frozenset[str]]:
        chosen = {language: self._commands[language] for language in languages}
        return probe(chosen, env=self._env, cwd=self._cwd)

    def __getitem__(self, language: Language) -> frozenset[str]:
        if language not in self._commands:
            raise KeyError(language)
        return self._probe([language])[language]

    def __iter__(self) -> Iterator[Language]:
        return iter(self._probe(list(self._commands)))

    def __len__(self) -> int:
        return len(self._probe(list(self._commands)))

    def __repr__(self) -> str:
        return f"ProbedPackages(languages={sorted(self._commands)})"


_Key = tuple[tuple[str, ...], tuple[tuple[str, str], ...], str]
_answers: dict[_Key, frozenset[str] | None] = {}
_lock = threading.Lock()


def _start(key: _Key) -> subprocess.Popen[bytes] | None:
    argv, env, cwd = key
    try:
        return subprocess.Popen(
            argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as error:
        log.warning("packages_probe_failed", command=argv[0], error=repr(error))
        return None


def _collect(
    argv: tuple[str, ...], process: subprocess.Popen[bytes] | None
) -> frozenset[str] | None:
    if process is None:
        return None
    try:
        stdout, stderr = process.communicate(timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        log.warning("packages_probe_failed", command=argv[0], error="timed out")
        return None
    try:
        names = json.loads(stdout) if process.returncode == 0 else None
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        log.warning(
            "packages_probe_failed",
            command=argv[0],
            status=process.returncode,
            stderr=stderr.decode("utf-8", "replace")[-500:],
        )
        return None
    return frozenset(names)


def interpreter_commands(
    python: str | None, node: str | None, *, isolated: bool
) -> dict[Language, list[str]]:
    """The probe command of each interpreter found. Python runs with `-I` when `isolated`
    (as a backend that runs programs with `-I` does), else with `-P` only: user site and
    environment apply, but the probe's working directory is not searched (a program's is
    its own, empty one)."""
    commands: dict[Language, list[str]] = {}
    if python:
        commands["python"] = [python, "-I" if isolated else "-P", "-c", PYTHON_PROBE]
    if node:
        commands["javascript"] = [node, "-e", NODE_PROBE]
    return commands
