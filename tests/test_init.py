"""Tests for the `turnout` package: importing it is cheap (nothing heavy until a name is
used), and every exported name resolves."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

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
    "turnout_local_subprocess",
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
#: the shadow comparison, the "did you mean" suggestion, the other commands, the report
#: renderers and the application-side logging libraries.
NOT_ON_THE_RUN_PATH = (
    "turnout.comparison",
    "difflib",
    "turnout.audit",
    "turnout.conformance",
    "turnout.chaos",
    "turnout.reports",
    "turnout.bench",
    "turnout.rollout",
    "turnout_e2b.commands",
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


def test_every_exported_name_resolves() -> None:
    """Each name in `turnout.__all__` is an attribute (loaded on first use)."""
    for name in turnout.__all__:
        assert getattr(turnout, name) is not None, name


def test_an_unknown_name_is_an_attribute_error() -> None:
    """A name turnout does not export raises AttributeError, as any module does."""
    with pytest.raises(AttributeError, match="Nope"):
        turnout.Nope  # type: ignore[attr-defined]  # noqa: B018
