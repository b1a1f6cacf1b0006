"""Starting a Python kernel: a real IPython kernel process, ready for one sandbox.

The kernel is started with exactly the environment it is given, in a neutral working
directory, with colours off, unlimited sequence repr length and the E2B-like JSON
formatter (`ipython_startup.py`), the way E2B's template configures its kernels. Its
connection file and IPC sockets live in a private directory, removed at shutdown. With
`isolation`, its command is wrapped to run in namespaces of its own, and it is started
"independent" (inside the namespace its parent is PID 1, which ipykernel would take for its
parent having died). A start that fails or is cancelled leaves no kernel behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager

from turnout_e2b_server.isolation import Isolation
from turnout_e2b_server.kernels.base import Kernel, KernelError
from turnout_e2b_server.kernels.python import PythonKernel

__all__ = ["start_python_kernel"]

STARTUP_SCRIPT = Path(__file__).with_name("ipython_startup.py")
READY_TIMEOUT_S = 30.0


class _WrappedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command runs inside the isolation wrapper."""

    def __init__(self, *, isolation: Isolation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._isolation = isolation

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self._isolation.command(super().format_kernel_cmd(extra_arguments))


def _make_runtime_dir(runtime_root: Path | None) -> Path:
    if runtime_root is not None:
        runtime_root.mkdir(parents=True, exist_ok=True)
    runtime_dir = Path(tempfile.mkdtemp(prefix="k", dir=runtime_root))
    (runtime_dir / "ipython").mkdir()
    return runtime_dir


async def _wait_until_ready(manager: AsyncKernelManager, client: AsyncKernelClient) -> None:
    """Return once the kernel answers kernel_info and its IOPub messages reach us.

    jupyter_client's `wait_for_ready` does the same, then waits until IOPub has been
    silent for 0.2 s, which adds 0.2 s to every start (and to every create that finds the
    pool empty). That wait is not needed here: IOPub messages of an earlier request are
    dropped by the readers anyway, which route messages by their parent request.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    while True:
        client.kernel_info()
        try:
            reply = await client.get_shell_msg(timeout=1.0)
        except queue.Empty:
            pass
        else:
            if reply["msg_type"] == "kernel_info_reply":
                try:  # the request's status messages show that IOPub is connected
                    await client.get_iopub_msg(timeout=0.2)
                    return
                except queue.Empty:
                    pass  # not yet subscribed: ask again
        if not await manager.is_alive():
            raise KernelError("the kernel died before replying to kernel_info")
        if loop.time() > deadline:
            raise KernelError(f"the kernel did not respond within {READY_TIMEOUT_S:.0f} s")


async def start_python_kernel(
    language: str,
    *,
    neutral_cwd: Path,
    base_env: Mapping[str, str],
    runtime_root: Path | None = None,
    isolation: Isolation | None = None,
) -> Kernel:
    """Start an IPython kernel in `neutral_cwd` with exactly `base_env` as its environment.

    Its connection file and IPC sockets live in a private directory under `runtime_root`
    (default: the system temp dir), removed again at shutdown. With `isolation` it runs in
    namespaces of its own.
    """
    if language != "python":
        raise KernelError(f"the Python kernel cannot run {language!r}")
    runtime_dir = _make_runtime_dir(runtime_root)
    settings: dict[str, Any] = {
        "kernel_name": "python3",
        "transport": "ipc",
        "ip": str(runtime_dir / "s"),
        "connection_file": str(runtime_dir / "connection.json"),
    }
    manager = (
        AsyncKernelManager(**settings)
        if isolation is None
        else _WrappedKernelManager(isolation=isolation, **settings)
    )
    # Use this interpreter whatever PATH says (the kernel spec's argv starts with "python").
    if manager.kernel_spec is not None:
        manager.kernel_spec.argv[0] = sys.executable
    try:
        await manager.start_kernel(
            env=dict(base_env),
            cwd=str(neutral_cwd),
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("TURNOUT_KERNEL_DEBUG") else subprocess.DEVNULL,
            independent=isolation is not None,
            extra_arguments=[
                "--InteractiveShell.colors=nocolor",
                "--PlainTextFormatter.max_seq_length=0",
                "--HistoryManager.enabled=False",
                f"--ipython-dir={runtime_dir / 'ipython'}",
                f"--IPKernelApp.exec_files={STARTUP_SCRIPT}",
            ],
        )
        client = manager.client()
        client.start_channels()
        await _wait_until_ready(manager, client)
    except BaseException as exc:  # cancellation included: never leave a kernel behind
        pid = getattr(manager.provisioner, "pid", None)
        if isinstance(pid, int):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.shield(manager.shutdown_kernel(now=True))
        shutil.rmtree(runtime_dir, ignore_errors=True)
        if isinstance(exc, Exception):
            raise KernelError(f"the Python kernel did not start: {exc}") from exc
        raise
    return PythonKernel(manager, client, runtime_dir, isolated=isolation is not None)
