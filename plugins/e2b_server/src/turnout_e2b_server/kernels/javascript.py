"""The JavaScript/TypeScript kernel: one Node process running `js/kernel.js`.

E2B's JavaScript kernel is a fork of ijavascript (nel) on Node 20 whose cells are
Babel-transformed. This kernel reproduces what a cell observes there:

- Every cell, whatever its `language` ("js", "javascript", "ts", "typescript", None), has
  TypeScript types stripped and ESM `import` turned into `require` (sucrase; E2B's Babel
  applies its TypeScript preset to every cell too). Default imports use Babel's classic
  interop (`.default` of an `__esModule` module), not Node's.
- Top-level `await` works as in E2B's Babel plugin: from the first statement holding one,
  the cell runs in an async function; its declarations are hoisted so later cells see them,
  and the last expression statement is its value unless it is an assignment.
- The completion value is awaited if it is a Promise and reported as util.inspect(value)
  with E2B's quote stripping (a string longer than 10,000 characters is truncated by
  util.inspect and so keeps its quotes); `undefined` gives no result; no `json` field.
- Errors are reported as nel reports them: name = err.name, value = err.message,
  traceback = the stack lines joined with "". A thrown non-Error value (`throw "x"`) gets
  name `typeof value` ("string"), value util.inspect(value) ("'x'") and an empty
  traceback; so does an Error without a message (value = util.inspect(err)).
- `require` resolves from the kernel's current directory, then Node's global folders;
  `module`, `exports`, `__filename` ("[eval]") and `process.argv` look as under
  `node --eval`, which is how nel runs cells (so turnout's runtime sees kernel mode).
- Output written while no cell runs (timers of an earlier cell) is dropped, as in E2B; an
  uncaught exception or unhandled rejection never kills the kernel: its stack goes to the
  stderr of whichever cell is running.
- A cell that ends the process (`process.exit`, a fatal V8 error) ends with the error E2B
  reports when Jupyter restarts a dead kernel, `ContextRestarting: Context was restarted`
  (the traceback says why), and the kernel is restarted: state is lost, as in E2B.
- `interrupt` kills the process group and starts a fresh kernel (E2B restarts a JS kernel
  on interrupt); the interrupted cell ends with the same `ContextRestarting` error. With no
  cell running it does nothing.

The channel to Node is the child's stdin (commands) and stdout (events): frames of a
4-byte big-endian length and a UTF-8 JSON object. User output never touches fd 1: the
kernel sends it as events, moves the protocol pipes to close-on-exec descriptors and puts
/dev/null on fds 0 and 1 for the processes a cell starts. Node's stderr goes to a temporary
file, whose last few KiB explain a kernel that dies (V8 writes fatal errors there).

With `isolation`, Node runs in namespaces of its own (see `turnout_e2b_server.isolation`);
every process it starts (its restarts included) is re-adopted: the sandbox's directories
attached, then root dropped for the sandbox's user (`process.setuid`, which glibc applies to
every thread), then checked from outside.

Node packages (sucrase, acorn): in js/node_modules, which the wheel carries (bundled at build
time by hatch_build.py) and `python3 dev.py sync` installs in a source checkout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shutil
import signal
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from turnout_e2b_server.isolation import Isolation
from turnout_e2b_server.kernels.base import EventSink, Kernel, KernelError
from turnout_e2b_server.kernels.results import strip_quotes
from turnout_e2b_server.sandbox_mounts import SandboxMounts

__all__ = ["JS_DIR", "MISSING_PACKAGES_FIX", "JavaScriptKernel", "start_javascript_kernel"]

log = logging.getLogger(__name__)

JS_DIR = Path(__file__).with_name("js")
KERNEL_JS = JS_DIR / "kernel.js"
# The wheel carries the kernel's Node packages (bundled at build time); only a source
# checkout can lack them, and there dev.py installs them from the kernel's lock file.
MISSING_PACKAGES_FIX = (
    "in a source checkout, run `python3 dev.py sync`; an installed turnout-e2b-server "
    "wheel has them (reinstall it)"
)
READY_TIMEOUT_S = 30.0
# How long a killed kernel may take to exit and close its pipes before we stop waiting.
EXIT_GRACE_S = 2.0
STDERR_TAIL_BYTES = 8192
# Events queued for a cell before the kernel is made to wait for the caller.
QUEUE_LIMIT = 1000
_HEADER = struct.Struct(">I")
_ids = itertools.count(1)


def _restart_error(reason: str) -> dict[str, Any]:
    """The error E2B's server reports when a kernel restarts under a running cell."""
    return {
        "type": "error",
        "name": "ContextRestarting",
        "value": "Context was restarted",
        "traceback": reason,
    }


class _Node:
    """One Node process: its channel, and a reader routing events to the waiting command."""

    def __init__(self, proc: asyncio.subprocess.Process, stderr: IO[bytes]) -> None:
        self.proc = proc
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.interrupted = False
        self._outstanding: set[int] = set()  # sent, and Node has not answered "done" yet
        self._waiting: tuple[int, asyncio.Queue[dict[str, Any] | None]] | None = None
        self._room = asyncio.Event()  # cleared while the waiting command's queue is full
        self._stderr = stderr
        self._stderr_tail = ""
        self._gone = False
        self._killed = False
        self._event_reader = asyncio.create_task(self._read_events(), name="js-kernel-events")

    @property
    def alive(self) -> bool:
        return not self._gone and self.proc.returncode is None

    @property
    def busy(self) -> bool:
        """Node is running a command, even one whose caller has given up on it."""
        return bool(self._outstanding)

    def stderr_tail(self) -> str:
        """The end of what Node wrote to its stderr (a fatal error, a start-up failure)."""
        if not self._stderr.closed:
            size = os.fstat(self._stderr.fileno()).st_size
            data = os.pread(
                self._stderr.fileno(), STDERR_TAIL_BYTES, max(0, size - STDERR_TAIL_BYTES)
            )
            self._stderr_tail = data.decode("utf-8", "replace").strip()
        return self._stderr_tail

    async def call(self, message: dict[str, Any], emit: EventSink) -> bool:
        """Send one command and emit its events; False if the process died before "done"."""
        command_id = next(_ids)
        body = json.dumps({**message, "id": command_id}).encode()
        events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._waiting = (command_id, events)
        self._outstanding.add(command_id)
        try:
            if self._gone:
                return False
            assert self.proc.stdin is not None
            self.proc.stdin.write(_HEADER.pack(len(body)) + body)
            await self.proc.stdin.drain()
            while (event := await events.get()) is not None:
                if events.qsize() < QUEUE_LIMIT:
                    self._room.set()
                if event["type"] == "done":
                    return True
                await emit(event)
            return False
        except ConnectionError:  # the pipe closed under the write; the reader sees it too
            return False
        finally:
            self._waiting = None
            self._room.set()

    async def kill(self) -> None:
        """Kill the process group and wait for the process and the event reader to end."""
        if self._killed:
            return
        self._killed = True
        self._gone = True  # the reader now drops events, so it reaches end of file quickly
        self._room.set()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            # On Python 3.11 wait() also waits for the pipes to close: kernel.js keeps its
            # pipes from the processes a cell starts, but without /proc they may inherit them.
            await asyncio.wait_for(self.proc.wait(), EXIT_GRACE_S)
        except TimeoutError:
            log.warning(
                "JavaScript kernel %d: its pipes are still open after it died", self.proc.pid
            )
            self._event_reader.cancel()
        await asyncio.gather(self._event_reader, return_exceptions=True)
        self.stderr_tail()
        self._stderr.close()

    async def _read_events(self) -> None:
        assert self.proc.stdout is not None
        try:
            while True:
                (size,) = _HEADER.unpack(await self.proc.stdout.readexactly(_HEADER.size))
                event = json.loads(await self.proc.stdout.readexactly(size))
                command_id = event.pop("cell", None)
                if event.get("type") == "ready":
                    if not self.ready.done():
                        self.ready.set_result(True)
                    continue
                if event.get("type") == "done":
                    self._outstanding.discard(command_id)
                if not self._gone and self._waiting and self._waiting[0] == command_id:
                    queue = self._waiting[1]
                    queue.put_nowait(event)
                    if queue.qsize() >= QUEUE_LIMIT:
                        # Back-pressure: while the caller lags, Node blocks on a full pipe.
                        self._room.clear()
                        await self._room.wait()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # end of file (the process died) or a broken channel
        finally:
            self._gone = True
            if not self.ready.done():
                self.ready.set_result(False)
            if self._waiting is not None:
                self._waiting[1].put_nowait(None)


class JavaScriptKernel:
    """A Node kernel serving one sandbox; restarted transparently when its process dies."""

    language = "javascript"

    def __init__(
        self,
        node: str,
        neutral_cwd: Path,
        base_env: Mapping[str, str],
        isolation: Isolation | None = None,
    ) -> None:
        self._node_path = node
        self._neutral_cwd = neutral_cwd
        self._base_env = dict(base_env)
        self._isolation = isolation
        self._adopted: tuple[str, dict[str, str], SandboxMounts | None] | None = None
        self._node: _Node | None = None
        self._cells = asyncio.Lock()  # one command at a time
        self._life = asyncio.Lock()  # starting and killing the process
        self._closed = False

    @property
    def pid(self) -> int | None:
        node = self._node
        return node.proc.pid if node is not None and node.alive else None

    async def adopt(
        self, cwd: str, env_vars: Mapping[str, str], *, sandbox: SandboxMounts | None = None
    ) -> None:
        async with self._cells:
            node = await self._ensure()
            await self._adopt(node, cwd, dict(env_vars), sandbox)
            self._adopted = (cwd, dict(env_vars), sandbox)

    async def execute(
        self,
        code: str,
        emit: EventSink,
        *,
        env_vars: Mapping[str, str] | None = None,
        language: str | None = None,
    ) -> None:
        # `language` needs no handling: every cell is stripped of TypeScript types.
        async with self._cells:
            node = await self._ensure()
            message = {"op": "run", "code": code, "env": dict(env_vars or {})}
            if await node.call(message, lambda event: emit(_e2b_event(event))):
                return
            await emit(await self._after_death(node))

    async def interrupt(self) -> None:
        async with self._life:
            node = self._node
            if self._closed or node is None or not node.busy or not node.alive:
                return
            node.interrupted = True
            await node.kill()
            self._node = await self._start()

    async def shutdown(self) -> None:
        self._closed = True
        async with self._life:
            node, self._node = self._node, None
            if node is not None:
                await node.kill()

    # -- internals ------------------------------------------------------------------------

    async def _after_death(self, node: _Node) -> dict[str, Any]:
        """The error that ends a cell whose process died; restart the kernel if it crashed."""
        if self._closed:
            return {
                "type": "error",
                "name": "UnexpectedEndOfExecution",
                "value": "The kernel was shut down before the execution was finished",
                "traceback": "",
            }
        if node.interrupted:
            return _restart_error(
                "The execution was interrupted: the JavaScript kernel was restarted and its "
                "state is lost."
            )
        async with self._life:
            if self._node is node:
                await node.kill()
        code = node.proc.returncode
        reason = (
            f"The JavaScript kernel exited (code {code}) while running this cell, for "
            "example through process.exit(); it was restarted and its state is lost."
        )
        if tail := node.stderr_tail():
            reason += f"\n{tail}"
        try:
            await self._ensure()
        except KernelError:
            log.warning("the JavaScript kernel could not be restarted", exc_info=True)
        return _restart_error(reason)

    async def _ensure(self) -> _Node:
        """The running process, started anew if there is none or it has died."""
        async with self._life:
            if self._closed:
                raise KernelError("the kernel has been shut down")
            if self._node is None or not self._node.alive:
                if self._node is not None:
                    await self._node.kill()
                self._node = await self._start()
            return self._node

    async def _start(self) -> _Node:
        """Start Node with the neutral directory and base environment, then re-adopt."""
        # stderr goes to a file: processes a cell starts inherit it, and may outlive the kernel.
        stderr = tempfile.TemporaryFile(prefix="turnout-js-kernel-")  # noqa: SIM115 (closed by kill)
        argv = [self._node_path, str(KERNEL_JS)]
        if self._isolation is not None:
            argv = self._isolation.command(argv)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                cwd=self._neutral_cwd,
                env=self._base_env,
                start_new_session=True,
            )
        except BaseException:
            stderr.close()
            raise
        node = _Node(proc, stderr)
        try:
            try:
                ready = await asyncio.wait_for(node.ready, READY_TIMEOUT_S)
            except TimeoutError:
                ready = False
            if not ready:
                await node.kill()  # so that stderr is complete
                raise KernelError(
                    f"the JavaScript kernel did not start (exit code {proc.returncode}): "
                    f"{node.stderr_tail() or 'no output'}"
                )
            if self._adopted is not None:
                await self._adopt(node, *self._adopted)
        except BaseException:
            await node.kill()
            raise
        return node

    async def _adopt(
        self, node: _Node, cwd: str, env_vars: dict[str, str], sandbox: SandboxMounts | None
    ) -> None:
        confined = sandbox if self._isolation is not None else None
        if confined is not None:
            await confined.enter(node.proc.pid)
        errors: list[dict[str, Any]] = []

        async def collect(event: dict[str, Any]) -> None:
            if event["type"] == "error":
                errors.append(event)

        message: dict[str, Any] = {"op": "adopt", "cwd": cwd, "env": env_vars}
        if confined is not None:
            message.update(uid=confined.uid, gid=confined.gid)
        if not await node.call(message, collect):
            raise KernelError(f"the JavaScript kernel died while adopting: {node.stderr_tail()}")
        if errors:
            raise KernelError(f"cannot adopt {cwd}: {errors[0]['value']}")
        if confined is not None:
            confined.verify_unprivileged(node.proc.pid)


def _e2b_event(event: dict[str, Any]) -> dict[str, Any]:
    """Finish a kernel.js event the way E2B's server shapes Jupyter messages."""
    if event["type"] == "result":
        return {"type": "result", "text": strip_quotes(event["text"]), "is_main_result": True}
    return event


async def start_javascript_kernel(
    language: str,
    *,
    neutral_cwd: Path,
    base_env: Mapping[str, str],
    isolation: Isolation | None = None,
) -> Kernel:
    """Start a JavaScript kernel in `neutral_cwd` with exactly `base_env` as environment.

    With `isolation` it runs in namespaces of its own.
    """
    if language != "javascript":
        raise KernelError(f"the JavaScript kernel cannot run {language!r}")
    missing = [
        name for name in ("sucrase", "acorn") if not (JS_DIR / "node_modules" / name).is_dir()
    ]
    if missing:
        raise KernelError(
            f"the JavaScript kernel's packages are missing ({', '.join(missing)}) from "
            f"{JS_DIR / 'node_modules'}: {MISSING_PACKAGES_FIX}"
        )
    node = shutil.which("node", path=base_env.get("PATH")) or shutil.which("node")
    if node is None:
        raise KernelError("node is not on PATH: the JavaScript kernel needs Node 20")
    kernel = JavaScriptKernel(node, neutral_cwd, base_env, isolation)
    await kernel._ensure()
    return kernel
