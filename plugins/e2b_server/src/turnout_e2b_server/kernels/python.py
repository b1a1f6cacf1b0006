"""The Python kernel: a real IPython kernel (ipykernel) driven through jupyter_client.

Why a real IPython kernel: the plugin's parity with E2B depends on IPython's behaviour
(the last expression becomes the result, `display()` outputs, the structured traceback),
and only IPython itself reproduces it faithfully. `python_start` starts the process; this
module runs cells on it for the one sandbox that adopted it.

Messages arrive on two ZMQ channels (iopub: outputs and status; shell: replies); one reader
task per channel routes them by parent message id to the cell that is waiting for them.
Setup code (working directory, environment) runs as *silent* cells, which IPython neither
counts nor stores, so the first user cell is still `In[1]`.

With isolation, the ZMQ sockets are IPC (Unix) sockets in a directory of the server's,
bound by the kernel at start-up, before anything is mounted over /tmp, and reached by the
server through their host paths: the kernel needs no network (it has none). When a sandbox
adopts it, it drops root for the sandbox's user in a silent cell (glibc applies the change
to every thread of the process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

from turnout_e2b_server.kernels.base import EventSink, KernelError
from turnout_e2b_server.kernels.results import result_event
from turnout_e2b_server.sandbox_mounts import SandboxMounts

__all__ = ["PythonKernel"]

log = logging.getLogger(__name__)

# How often a waiting cell checks that the kernel process is still alive.
LIVENESS_POLL_S = 1.0
# An interrupt is repeated this often until the cell ends, for at most this long.
INTERRUPT_RETRY_S = 0.5
INTERRUPT_PATIENCE_S = 10.0


def _python_literal(value: object) -> str:
    """A Python expression for `value`, by way of JSON: data never becomes source text."""
    return f"__import__('json').loads({json.dumps(value)!r})"


class PythonKernel:
    """One IPython kernel process (its own process group) serving one sandbox."""

    language = "python"

    def __init__(
        self,
        manager: AsyncKernelManager,
        client: AsyncKernelClient,
        runtime_dir: Path,
        *,
        isolated: bool = False,
    ) -> None:
        self._manager = manager
        self._client = client
        self._runtime_dir = runtime_dir
        self._isolated = isolated
        pid = getattr(manager.provisioner, "pid", None)
        self._pid: int | None = pid if isinstance(pid, int) else None
        self._routes: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._base_env: dict[str, str] = {}
        self._cell_done: asyncio.Event | None = None
        self._closed = False  # shut down by us
        self._dead = False  # found dead while a cell waited (crash, OOM kill)
        self._readers = [
            asyncio.create_task(self._read(client.get_iopub_msg), name="kernel-iopub"),
            asyncio.create_task(self._read(client.get_shell_msg), name="kernel-shell"),
        ]

    @property
    def pid(self) -> int | None:
        return None if self._closed or self._dead else self._pid

    async def adopt(
        self, cwd: str, env_vars: Mapping[str, str], *, sandbox: SandboxMounts | None = None
    ) -> None:
        confined = sandbox if self._isolated and self._pid is not None else None
        if confined is not None and self._pid is not None:
            await confined.enter(self._pid)
        self._base_env = dict(env_vars)
        drop = ""
        if confined is not None:
            uid, gid = confined.uid, confined.gid
            drop = (
                f"os.setgroups([]), os.setresgid({gid}, {gid}, {gid}), "
                f"os.setresuid({uid}, {uid}, {uid}), "
            )
        code = (
            f"(lambda os: ({drop}os.chdir({_python_literal(cwd)}), "
            f"os.environ.update({_python_literal(self._base_env)})))(__import__('os'))"
        )
        await self._run_silent(code)
        if confined is not None and self._pid is not None:
            confined.verify_unprivileged(self._pid)

    async def execute(
        self,
        code: str,
        emit: EventSink,
        *,
        env_vars: Mapping[str, str] | None = None,
        language: str | None = None,
    ) -> None:
        if self._closed:
            raise KernelError("the kernel has been shut down")
        cell_env = dict(env_vars or {})
        if cell_env:
            # Queued ahead of the cell; the kernel runs shell requests in order.
            self._client.execute(self._env_set_code(cell_env), silent=True, stop_on_error=False)
        msg_id = self._client.execute(code, silent=False, store_history=True, stop_on_error=True)
        queue = self._route(msg_id)
        done = self._cell_done = asyncio.Event()
        try:
            await self._collect(queue, emit)
        finally:
            done.set()
            self._cell_done = None
            self._routes.pop(msg_id, None)
            if cell_env and not self._closed:
                # Not awaited: after an interrupt this still runs, once the cell has stopped.
                self._client.execute(
                    self._env_restore_code(cell_env), silent=True, stop_on_error=False
                )

    async def interrupt(self) -> None:
        """SIGINT the kernel's process group, repeatedly until the running cell has ended.

        ipykernel ignores SIGINT between cells and installs its handler only once a cell
        starts, so a single signal sent right after the request can be lost; it is
        repeated every INTERRUPT_RETRY_S, for at most INTERRUPT_PATIENCE_S.
        """
        done = self._cell_done
        loop = asyncio.get_running_loop()
        deadline = loop.time() + INTERRUPT_PATIENCE_S
        while not self._closed:
            with contextlib.suppress(Exception):
                await self._manager.interrupt_kernel()
            if done is None or loop.time() >= deadline:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), INTERRUPT_RETRY_S)
            if done.is_set():
                return

    async def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        for reader in self._readers:
            reader.cancel()
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self._client.stop_channels()
        try:
            await asyncio.wait_for(self._manager.shutdown_kernel(now=True), timeout=5.0)
        except Exception:  # already dead and reaped, or the manager gave up: nothing left
            log.debug("kernel manager shutdown failed", exc_info=True)
        await asyncio.gather(*self._readers, return_exceptions=True)
        shutil.rmtree(self._runtime_dir, ignore_errors=True)

    # -- internals ------------------------------------------------------------------------

    def _route(self, msg_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._routes[msg_id] = queue
        return queue

    async def _read(self, get: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        """Route every message of one channel to the cell waiting for it; drop the rest."""
        while True:
            try:
                msg = await get()
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._closed:
                    return
                await asyncio.sleep(0.05)
                continue
            queue = self._routes.get(msg.get("parent_header", {}).get("msg_id", ""))
            if queue is not None:
                queue.put_nowait(msg)

    async def _collect(self, queue: asyncio.Queue[dict[str, Any]], emit: EventSink) -> None:
        """Emit the cell's outputs until the kernel reports it idle again."""
        errored = False
        while True:
            try:
                msg = await asyncio.wait_for(queue.get(), timeout=LIVENESS_POLL_S)
            except TimeoutError:
                if self._closed or not await self._manager.is_alive():
                    self._dead = True
                    await emit(
                        {
                            "type": "error",
                            "name": "ContextRestarting",
                            "value": "Context was restarted",
                            "traceback": "",
                        }
                    )
                    return
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") in ("stdout", "stderr"):
                await emit({"type": content["name"], "text": content["text"]})
            elif kind in ("execute_result", "display_data"):
                await emit(result_event(content["data"], is_main_result=kind == "execute_result"))
            elif kind == "error" or (kind == "execute_reply" and content["status"] == "error"):
                if not errored:
                    errored = True
                    await emit(
                        {
                            "type": "error",
                            "name": content.get("ename", ""),
                            "value": content.get("evalue", ""),
                            "traceback": "".join(content.get("traceback", [])),
                        }
                    )
            elif kind == "execute_reply" and content["status"] == "aborted":
                await emit(
                    {
                        "type": "error",
                        "name": "ExecutionAborted",
                        "value": "Execution was aborted",
                        "traceback": "",
                    }
                )
                return
            elif kind == "status" and content.get("execution_state") == "idle":
                return

    async def _run_silent(self, code: str) -> None:
        """Run setup code that the user never sees; raise KernelError if it fails."""
        msg_id = self._client.execute(code, silent=True, stop_on_error=False)
        queue = self._route(msg_id)
        errors: list[dict[str, Any]] = []

        async def sink(event: dict[str, Any]) -> None:
            if event["type"] == "error":
                errors.append(event)

        try:
            await self._collect(queue, sink)
        finally:
            self._routes.pop(msg_id, None)
        if errors:
            raise KernelError(f"kernel setup failed: {errors[0]['name']}: {errors[0]['value']}")

    @staticmethod
    def _env_set_code(env: Mapping[str, str]) -> str:
        return f"__import__('os').environ.update({_python_literal(dict(env))})"

    def _env_restore_code(self, env: Mapping[str, str]) -> str:
        """Put back the sandbox-wide value of every variable the cell set, or remove it."""
        restore = {key: self._base_env[key] for key in env if key in self._base_env}
        remove = [key for key in env if key not in self._base_env]
        return (
            "(lambda e, s, r: (e.update(s), [e.pop(k, None) for k in r]))"
            f"(__import__('os').environ, {_python_literal(restore)}, {_python_literal(remove)})"
        )
