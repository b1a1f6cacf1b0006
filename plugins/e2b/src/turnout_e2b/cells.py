"""The kernel cells an execution sends: turnout's runtime first, then the node itself.

A program is turnout's runtime for its language followed by one launcher line. It is sent
as two cells in the sandbox's kernel for that language:

- `setup` defines the runtime. It is turnout's own code, the same for every node, and it
  runs before the node's timeout starts, as a local-subprocess interpreter is started
  before its hand-over. A kernel transforms every cell it runs (E2B's JavaScript kernel
  passes it through Babel, the local server's through sucrase and acorn, IPython through
  its input transformers), and the first cell of a fresh kernel pays for that machinery's
  first use: 190-290 ms for the 13 KB JavaScript runtime on an idle 2-core machine, over
  900 ms under load, which made a sub-second timeout fire before the node's first line.
- `run` is the launcher: the node's code and inputs, run under its timeout.

The Python runtime is sent compressed and run with `exec` in the kernel's namespace (what
running it as a cell does, without IPython transforming 17 KB of source), together with a
helper; the `run` cell ends with one expression returning a small result file's text as
the cell's result (`inline_result`), which saves the round trip that reads the file. User
code is compiled by the runtime itself, under its own file name, and the result file is
written as before (a larger one is read from the sandbox as before). JavaScript results
come back through the result file: the JS kernel renders a cell's value with
util.inspect, which is no way to move data.

A program that does not start with turnout's runtime is sent whole as the `run` cell.
"""

from __future__ import annotations

import base64
import functools
import zlib
from dataclasses import dataclass
from typing import Any

from turnout.contract import runtime_source
from turnout.models import ExecutionRequest

__all__ = ["INLINE_RESULT_BYTES", "Cells", "cells_for", "inline_result"]

INLINE_RESULT_BYTES = 64 * 1024
"""Largest result file returned as the cell's result instead of read in a second request."""
INLINE_KEY = "turnout_result_file"
RUNTIME_LANGUAGES = frozenset({"python", "javascript"})


@dataclass(frozen=True)
class Cells:
    """What to run in the kernel: `setup` (untimed, may be None), then `run` (timed)."""

    setup: str | None
    run: str


def cells_for(request: ExecutionRequest) -> Cells:
    """Split `request.program` into the runtime's cell and the node's cell."""
    if request.language not in RUNTIME_LANGUAGES:
        return Cells(setup=None, run=request.program)
    runtime = runtime_source(request.language)
    if not request.program.startswith(runtime):
        return Cells(setup=None, run=request.program)
    launcher = request.program[len(runtime) :]
    if request.language == "javascript":
        return Cells(setup=runtime, run=launcher)
    limit = min(INLINE_RESULT_BYTES, request.max_result_bytes)
    return Cells(
        setup=_packed_python_runtime(runtime),
        run=(
            f"__turnout_result_file = __turnout_os.path.abspath({request.result_path!r})\n"
            + launcher.strip("\n")
            + f"\n__turnout_inline_result(__turnout_result_file, {limit})\n"
        ),
    )


_INLINE_HELPER = f"""\
import os as __turnout_os
def __turnout_inline_result(path, limit):
    try:
        with open(path, "rb") as result_file:
            data = result_file.read(limit + 1)
        if len(data) > limit:
            return None
        return {{"{INLINE_KEY}": data.decode("utf-8")}}
    except Exception:
        return None
"""


@functools.lru_cache(maxsize=2)
def _packed_python_runtime(runtime: str) -> str:
    packed = base64.b64encode(zlib.compress(runtime.encode("utf-8"), 9))
    return (
        "import base64 as __turnout_b64, zlib as __turnout_zlib\n"
        "exec(compile(__turnout_zlib.decompress(__turnout_b64.b64decode("
        f"{packed.decode('ascii')!r})).decode('utf-8'), '<turnout-runtime>', 'exec'))\n"
        "del __turnout_b64, __turnout_zlib\n" + _INLINE_HELPER
    )


def inline_result(execution: Any) -> bytes | None:
    """The result file's bytes if the `run` cell returned them, else None.

    Only the cell's main result counts (what user code displays is never main: the runtime
    runs it inside a function), and only in the exact shape the helper returns.
    """
    for result in getattr(execution, "results", None) or ():
        if not getattr(result, "is_main_result", False):
            continue
        data = getattr(result, "json", None)
        if isinstance(data, dict) and set(data) == {INLINE_KEY}:
            text = data[INLINE_KEY]
            if isinstance(text, str):
                return text.encode("utf-8")
    return None
