"""Tests for the `turnout` package: importing it is cheap (nothing heavy until a name is
used), and every exported name resolves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import turnout

#: Modules `import turnout` must not load: a console renderer, the E2B SDK and the HTTP
#: stack under it, the plugins, the parsers, the models library, structlog.
HEAVY = (
    "rich",
    "e2b",
    "e2b_code_interpreter",
    "httpx",
    "turnout_e2b",
    "turnout_e2b_server",
    "turnout_local_subprocess",
    "turnout_serve",
    "turnout_temporal",
    "turnout_devtools",
    "tree_sitter",
    "pydantic",
    "structlog",
    "pluggy",
    "asyncio",
)


def modules_after(code: str) -> set[str]:
    """The full names of the modules a fresh interpreter has loaded after `code`."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def loaded_after(code: str) -> set[str]:
    """The top-level names of the modules a fresh interpreter has loaded after `code`."""
    return {name.split(".")[0] for name in modules_after(code)}


#: `turnout run` of a Python node on local-subprocess, in a fresh interpreter.
RUN_ON_LOCAL_SUBPROCESS = """
    import contextlib, io, os
    os.environ["TURNOUT_ENV"] = "test"
    from turnout.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(["run", "--language", "python", "--code", "return 1",
                       "--backend", "local-subprocess", "--json"])
    assert status == 0
"""

#: Modules a run on local-subprocess (stage off, no mistake in the flags) has no use for:
#: the shadow comparison, the "did you mean" suggestion, the other commands (the developer
#: tools' too: only their hook module is loaded, by plugin discovery), the report renderers
#: and the application-side logging libraries.
NOT_ON_THE_RUN_PATH = (
    "turnout.comparison",
    "difflib",
    "turnout.audit",
    "turnout.conformance",
    "turnout.reports",
    "turnout.rollout",
    "turnout_devtools.bench",
    "turnout_devtools.chaos",
    "turnout_devtools.cli",
    "turnout_e2b.commands",
    "turnout_e2b_server",
    "structlog",
    "plotly",
    "pygments",
    "temporalio",
)


def test_import_turnout_loads_nothing_heavy() -> None:
    """`import turnout` loads no SDK, plugin, renderer, parser or pydantic."""
    assert loaded_after("import turnout") & set(HEAVY) == set()


def test_a_run_on_local_subprocess_loads_no_sdk_renderer_or_parser() -> None:
    """`turnout run` of a Python node on local-subprocess never imports the E2B SDK, httpx,
    rich or tree-sitter (it pays only for what it runs)."""
    loaded = loaded_after(RUN_ON_LOCAL_SUBPROCESS)
    assert loaded & {"rich", "e2b", "e2b_code_interpreter", "httpx", "tree_sitter"} == set()


def test_a_run_on_local_subprocess_loads_no_comparison_suggestion_or_other_command() -> None:
    """`turnout run` without a shadow stage or a mistake imports neither the shadow
    comparison nor difflib, nor another command's modules, renderers or logging libraries."""
    assert modules_after(RUN_ON_LOCAL_SUBPROCESS) & set(NOT_ON_THE_RUN_PATH) == set()


def test_import_turnout_loads_nothing_of_the_developer_tools() -> None:
    """`import turnout` loads no `turnout_devtools` module: core knows bench and chaos only
    as commands a plugin adds."""
    assert {name for name in modules_after("import turnout") if "turnout_devtools" in name} == set()


ROOT = Path(__file__).resolve().parents[1]
#: The uv `python3 dev.py sync` installs, which builds the wheel from uv's cache (offline).
UV = ROOT / ".bootstrap" / "bin" / "uv"


def test_the_core_wheel_ships_neither_bench_nor_chaos(tmp_path: Path) -> None:
    """The `turnout` wheel, built from this checkout, holds no bench or chaos module and no
    page of theirs: they ship in turnout-devtools."""
    build = [str(UV), "build", "--wheel", "--offline", "--package", "turnout"]
    subprocess.run(
        [*build, "--out-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        check=True,
        timeout=300,
        env={**os.environ, "UV_NO_PROGRESS": "1"},
    )
    [wheel] = tmp_path.glob("turnout-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "turnout/cli/__init__.py" in names
    assert [name for name in names if "bench" in name or "chaos" in name] == []


def test_every_exported_name_resolves() -> None:
    """Each name in `turnout.__all__` is an attribute (loaded on first use)."""
    for name in turnout.__all__:
        assert getattr(turnout, name) is not None, name


def test_an_unknown_name_is_an_attribute_error() -> None:
    """A name turnout does not export raises AttributeError, as any module does."""
    with pytest.raises(AttributeError, match="Nope"):
        turnout.Nope  # type: ignore[attr-defined]  # noqa: B018


#: Modules of the backends and their options: discovery registers each backend without them.
BACKEND_MODULES = (
    "turnout_e2b.backend",
    "turnout_e2b.options",
    "turnout_local_subprocess.backend",
    "turnout_local_subprocess.options",
)


def test_plugin_discovery_imports_no_backend_or_options_module() -> None:
    """Discovery registers both built-in backends without importing the module of either
    backend or of either options model (each is imported when first needed)."""
    loaded = modules_after(
        """
        from turnout.registry import discover
        assert {"e2b", "local-subprocess"} <= set(discover(disabled=[]).ids)
        """
    )
    assert loaded & set(BACKEND_MODULES) == set()


def e2b_modules_after_a_run(flags_path: Path) -> set[str]:
    """The `turnout_e2b` modules a fresh `turnout run` on local-subprocess has loaded, with
    the flag file at `flags_path`."""
    code = f"import os\nos.environ['TURNOUT_FLAGS_FILE'] = {str(flags_path)!r}\n"
    code += textwrap.dedent(RUN_ON_LOCAL_SUBPROCESS)
    return {name for name in modules_after(code) if name.startswith("turnout_e2b")}


FLAGS_WITHOUT_E2B_TABLE = """
schema_version = 1
[environments.test]
legacy_backend = "local-subprocess"
target_backend = "e2b"
stage = "off"
"""


def test_a_run_on_local_subprocess_imports_nothing_of_the_e2b_backend(tmp_path: Path) -> None:
    """`turnout run` on local-subprocess, with flags that have no e2b options table, loads
    nothing of the e2b plugin but its hook module."""
    flags = tmp_path / "flags.toml"
    flags.write_text(FLAGS_WITHOUT_E2B_TABLE, encoding="utf-8")
    assert e2b_modules_after_a_run(flags) == {"turnout_e2b", "turnout_e2b.plugin"}


def test_an_e2b_options_table_imports_the_options_model_alone(tmp_path: Path) -> None:
    """With an e2b options table to check, the run imports the e2b options model (and what
    it needs) but still not the e2b backend."""
    flags = tmp_path / "flags.toml"
    table = "[environments.test.backends.e2b]\npool_size = 0\n"
    flags.write_text(FLAGS_WITHOUT_E2B_TABLE + table, encoding="utf-8")
    loaded = e2b_modules_after_a_run(flags)
    assert "turnout_e2b.options" in loaded
    assert "turnout_e2b.backend" not in loaded


def test_a_run_on_local_subprocess_compiles_no_tokenize_pattern() -> None:
    """No model on the run path has a builtin default factory whose signature pydantic would
    parse with `tokenize` (compiling its pattern costs every process about 5 ms of CPU)."""
    code = textwrap.dedent(RUN_ON_LOCAL_SUBPROCESS) + "\nimport tokenize\n"
    code += "assert tokenize._compile.cache_info().currsize == 0, 'tokenize compiled a pattern'\n"
    modules_after(code)
