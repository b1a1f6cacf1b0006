"""How the `turnout` process ends: cleanup first, then exit without finalizing Python.

Why: the E2B SDK sends every request through pyqwest, whose I/O runs on a Rust (tokio)
runtime with threads of its own that Python never joins. When a request completes on one
of those threads while the interpreter is being finalized (one the SDK or turnout cancelled
or abandoned, or one cut when the embedded server stops at exit), the thread attaches to a
half-torn-down interpreter and the process dies with SIGABRT (status 134), silently, after
having printed a complete result. Cancelling the request does not stop its Rust task, and
nothing joins the runtime, so the only exit free of that race is one without
finalization: the CLI joins its own threads, runs the `atexit` handlers (they stop the
embedded server, kill leftover sandboxes, flush the logs) while the interpreter is whole,
flushes stdout and stderr, and calls `os._exit`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import NoReturn

__all__ = ["exit_process", "run_as_process"]


def run_as_process(main: Callable[[], int]) -> NoReturn:
    """Run `main` as the whole program and end the process with its status, as Python
    would (SystemExit codes, a traceback and 1 for an unexpected exception, 130 for
    Ctrl-C), through `exit_process`."""
    try:
        status = main()
    except SystemExit as exc:
        status = _status_of(exc.code)
    except KeyboardInterrupt:
        status = 130
    except BaseException:
        traceback.print_exc()
        status = 1
    exit_process(status)


def exit_process(status: int) -> NoReturn:
    """Join the other non-daemon threads, run the `atexit` handlers, flush stdout and
    stderr, and end the process with `status` without finalizing the interpreter."""
    try:
        current = threading.current_thread()
        for thread in threading.enumerate():
            if thread is not current and not thread.daemon and thread.is_alive():
                thread.join()
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)


def _status_of(code: object) -> int:
    """The exit status `sys.exit(code)` would give."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):
        sys.stderr.write(f"{code}\n")
    return 1
