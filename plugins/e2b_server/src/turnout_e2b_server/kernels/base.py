"""The interface between the local E2B-compatible server and a language kernel.

A kernel is one long-lived interpreter process (its own process group) that runs notebook
cells the way E2B's code-interpreter does. The server owns sandboxes, HTTP and the NDJSON
framing (`number_of_executions`, `keepalive`, `end_of_execution`); a kernel only runs a
cell and reports what happened as E2B-shaped events:

    {"type": "stdout", "text": "hi\\n"}
    {"type": "stderr", "text": "..."}
    {"type": "result", "text": "{'a': 1}", "json": {"a": 1}, "is_main_result": true}
    {"type": "error", "name": "ZeroDivisionError", "value": "division by zero",
     "traceback": "..."}

(The server adds `timestamp` to stdout/stderr events.) Kernels are started ahead of time
with a neutral working directory, then adopted by one sandbox, which gives them their
working directory, environment variables and, when the kernel runs in namespaces of its
own (see `turnout_e2b_server.isolation`), its /home/user, its private /tmp and its
unprivileged user; a kernel serves exactly one sandbox and dies with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from turnout_e2b_server.sandbox_mounts import SandboxMounts

__all__ = ["EventSink", "Kernel", "KernelError", "KernelFactory"]

EventSink = Callable[[dict[str, Any]], Awaitable[None]]


class Kernel(Protocol):
    language: str
    """"python" or "javascript" (TypeScript cells run on the javascript kernel)."""

    @property
    def pid(self) -> int | None:
        """The process the server started for the kernel, None once it has stopped.

        It leads the kernel's process group; with isolation it is the `unshare` wrapper,
        whose death takes everything in the kernel's namespaces with it.
        """
        ...

    async def adopt(
        self, cwd: str, env_vars: Mapping[str, str], *, sandbox: SandboxMounts | None = None
    ) -> None:
        """Bind this pre-started kernel to a sandbox: chdir to `cwd`, set `env_vars`.

        With `sandbox` (a kernel started in namespaces only), the sandbox's directories are
        attached to its namespaces first, the kernel drops root for the sandbox's user
        before it changes directory, and the drop is verified from outside.
        """
        ...

    async def execute(
        self,
        code: str,
        emit: EventSink,
        *,
        env_vars: Mapping[str, str] | None = None,
        language: str | None = None,
    ) -> None:
        """Run one cell, emitting events as they happen; return when the cell is done.

        `language` is the request's language verbatim ("js", "javascript", "ts", ...);
        a TypeScript cell has its types stripped first. `env_vars` apply to this cell only.
        """
        ...

    async def interrupt(self) -> None:
        """Stop the running cell (a client disconnected). State may be lost, as in E2B."""
        ...

    async def shutdown(self) -> None:
        """Kill the kernel's whole process group; safe to call twice."""
        ...


class KernelFactory(Protocol):
    async def __call__(
        self, language: str, *, neutral_cwd: Path, base_env: Mapping[str, str]
    ) -> Kernel: ...


class KernelError(RuntimeError):
    """The kernel could not be started or set up (not a failure of user code)."""
