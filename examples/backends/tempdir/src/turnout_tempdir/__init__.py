"""An example turnout backend: each program runs as a child process in a new temporary directory.

Not an isolation boundary: the program runs as the host's user, on the host's network and
filesystem, without a memory limit. Its capabilities say so.

Stopping everything: the program starts a session of its own, and the whole session is
killed when it exits, times out or is cancelled. A process that leaves the session
(`setsid`, a daemon's double fork) is found by a token in its environment, which every
process the program starts inherits, and killed too. A process that both leaves the
session and clears its environment escapes; a cgroup (as local-subprocess uses) closes
that gap.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import errno
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import ClassVar

import pydantic

from turnout.backend import BackendSettings, parse_backend_options, truncation_marker
from turnout.errors import ConfigurationError, InfrastructureError
from turnout.hookspecs import hookimpl
from turnout.models import (
    MAX_TIMEOUT_MS,
    Capabilities,
    ExecutionRequest,
    ExecutionResult,
    Language,
    Termination,
)
from turnout.registry import BackendRegistry

BACKEND_ID = "tempdir"
MAX_RESULT_BYTES = 64 * 1024 * 1024
GRACE_S = 0.2  # after the kill: how long output may take to reach end of file
TOKEN_VARIABLE = "TURNOUT_TEMPDIR_EXECUTION"  # marks every process an execution starts
PROGRAM: dict[Language, str] = {"python": "program.py", "javascript": "program.js"}


class Options(pydantic.BaseModel):
    """`[environments.<env>.backends.tempdir]` in feature_flags.toml; typos are refused."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)

    python: str = pydantic.Field(
        default=getattr(sys, "_base_executable", None) or sys.executable, min_length=1
    )
    node: str = pydantic.Field(default="node", min_length=1)
    output_cap_bytes: int = pydantic.Field(default=1024 * 1024, ge=1024)


class TempdirBackend:
    id: ClassVar[str] = BACKEND_ID
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = "example: child processes in a temporary directory, no isolation"
    options_model: ClassVar[type[Options]] = Options  # checked by turnout when flags load

    def __init__(self, settings: BackendSettings) -> None:
        self._options = parse_backend_options(BACKEND_ID, Options, settings.options)
        self._closed = False
        self._capabilities = Capabilities(
            languages=frozenset({"python", "javascript"}),
            isolation="process",
            network_access=True,  # nothing cuts it
            max_timeout_ms=MAX_TIMEOUT_MS,
            max_output_bytes=self._options.output_cap_bytes,
            max_result_bytes=MAX_RESULT_BYTES,
            memory_limit_mb=None,
            memory_enforcement="none",
            # The child gets an allow-listed environment, but it runs as the host's user and
            # can read /proc/<host pid>/environ.
            host_environment_visible=True,
            # Only the working directory is new; /tmp and the rest are the host's.
            persistent_filesystem=True,
            code_runs_as_worker_user=True,
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def aclose(self) -> None:
        self._closed = True  # nothing is held between executions

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        if self._closed:
            raise InfrastructureError(
                f"the {BACKEND_ID} backend is closed", retryable=False, backend=BACKEND_ID
            )
        argv = self._interpreter(request.language)
        begun = time.perf_counter()
        root = _prepare(request)
        timings = {"setup": (time.perf_counter() - begun) * 1000}
        try:
            work, cap = root / "work", self._options.output_cap_bytes
            argv.append(str(root / PROGRAM[request.language]))
            capture, termination, exit_code = await _run(
                argv, work, request.timeout_ms / 1000, cap, timings
            )
            limit = min(request.max_result_bytes, MAX_RESULT_BYTES)
            result, too_large = _read_result(_inside(work, request.result_path), work, limit)
        finally:
            await asyncio.to_thread(_remove, root)  # on every path, cancellation included
        return ExecutionResult(
            stdout=capture.text(1, "stdout"),
            stderr=capture.text(2, "stderr"),
            stdout_truncated=capture.truncated(1),
            stderr_truncated=capture.truncated(2),
            result=result,
            result_too_large=too_large,
            termination=termination,
            exit_code=exit_code,
            timings_ms=timings,
        )

    def _interpreter(self, language: Language) -> list[str]:
        option = "python" if language == "python" else "node"
        name = getattr(self._options, option)
        found = shutil.which(name)
        if found is None:
            raise ConfigurationError(
                f"the {BACKEND_ID} backend cannot run {language}: {name!r} was not found; "
                f"set its {option!r} option in feature_flags.toml"
            )
        # -I: ignore PYTHON* variables and the user site; -u: unbuffered, so what a
        # timed-out program printed is not lost in its buffer.
        return [found, "-I", "-u"] if language == "python" else [found]


class _Capture(asyncio.SubprocessProtocol):
    """Keeps the first `cap` bytes of stdout (fd 1) and stderr (fd 2); drains the rest."""

    def __init__(self, cap: int) -> None:
        loop = asyncio.get_running_loop()
        self.cap = cap
        self.kept = {1: bytearray(), 2: bytearray()}
        self.seen = {1: 0, 2: 0}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.seen[fd] += len(data)
        self.kept[fd] += data[: max(0, self.cap - len(self.kept[fd]))]

    def process_exited(self) -> None:  # called as soon as the child exits
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:  # exited and both pipes closed
        if not self.closed.done():
            self.closed.set_result(None)

    def truncated(self, fd: int) -> bool:
        return self.seen[fd] > self.cap

    def text(self, fd: int, name: str) -> str:
        # A character cut in half by the cap is dropped rather than shown as U+FFFD.
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        text = decoder.decode(bytes(self.kept[fd]), final=not self.truncated(fd))
        return text + truncation_marker(name, self.cap) if self.truncated(fd) else text


async def _run(
    argv: list[str], work: Path, timeout_s: float, cap: int, timings: dict[str, float]
) -> tuple[_Capture, Termination, int | None]:
    """Run in a new session; at exit, timeout or cancellation, SIGKILL everything it started.

    The timeout starts once the process exists: starting it is provisioning (`spawn`).
    """
    capture = _Capture(cap)
    token = os.urandom(16).hex()
    environment = {  # an allow-list: never a copy of os.environ, which holds the host's secrets
        "PATH": os.defpath,
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        TOKEN_VARIABLE: token,
    }
    spawning = time.perf_counter()
    try:
        transport, _ = await asyncio.get_running_loop().subprocess_exec(
            lambda: capture,
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=work,
            env=environment,
            start_new_session=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise InfrastructureError(
            f"could not start {argv[0]!r}: {exc}", started=False, backend=BACKEND_ID
        ) from exc
    timings["spawn"] = (time.perf_counter() - spawning) * 1000
    timed_out = True
    try:
        done, _ = await asyncio.wait({capture.exited}, timeout=timeout_s)
        timed_out = not done
    finally:
        # Exit, timeout or cancellation: kill the whole group and whatever left it (what
        # the program left running too), then give the pipes a bounded moment to deliver
        # the rest of the output.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(transport.get_pid(), signal.SIGKILL)
        try:
            await asyncio.to_thread(_kill_marked, f"{TOKEN_VARIABLE}={token}".encode())
            await asyncio.wait({capture.closed}, timeout=GRACE_S)
        finally:
            transport.close()
    returncode = transport.get_returncode()
    if timed_out:
        return capture, "timeout", None
    if returncode is None:  # the process vanished without a status: ended from outside
        return capture, "killed", None
    if returncode < 0:  # a signal we did not send: the user's code (128 + n, as shells say)
        return capture, "exited", 128 - returncode
    return capture, "exited", returncode


def _kill_marked(entry: bytes, passes: int = 20) -> None:
    """SIGKILL every process whose environment holds `entry`. A pass may miss what is
    forked meanwhile, so passes repeat until one finds nobody new. A process already
    signalled is not looked at again: it cannot fork any more, though on a loaded host it
    may stay listed for a while before the kernel ends it."""
    signalled: set[int] = set()
    for _ in range(passes):
        found = False
        for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
            if pid in signalled:
                continue
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/environ", "rb") as handle:
                    if entry not in handle.read().split(b"\0"):
                        continue
                os.kill(pid, signal.SIGKILL)
                signalled.add(pid)
                found = True
        if not found:
            return


def _prepare(request: ExecutionRequest) -> Path:
    """Create <root>/work/ holding the request's files, and the program file in <root>."""
    try:
        root = Path(os.path.realpath(tempfile.mkdtemp(prefix="turnout-tempdir-")))
    except OSError as exc:
        raise InfrastructureError(
            f"could not create a directory: {exc}", backend=BACKEND_ID
        ) from exc
    work = root / "work"  # the program's cwd and HOME; the program file stays outside it
    try:
        _inside(work, request.result_path)
        work.mkdir()
        for relative, data in request.files.items():
            target = _inside(work, relative)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (root / PROGRAM[request.language]).write_text(request.program, encoding="utf-8")
        (root / "package.json").write_text('{"type": "commonjs"}')  # whatever is above
    except OSError as exc:
        _remove(root)
        raise InfrastructureError(f"could not write the files: {exc}", backend=BACKEND_ID) from exc
    except BaseException:
        _remove(root)
        raise
    return root


def _inside(work: Path, relative: str) -> Path:
    """A request path inside `work/`; anything else is refused before the program starts."""
    pure = PurePosixPath(relative)
    if not pure.parts or pure.is_absolute() or ".." in pure.parts or "\x00" in relative:
        raise ConfigurationError(f"request path {relative!r} must stay inside the directory")
    return work.joinpath(*pure.parts)


def _read_result(path: Path, work: Path, limit: int) -> tuple[bytes | None, bool]:
    """At most `limit` bytes of a regular file; the program may have left anything there."""
    if not Path(os.path.realpath(path.parent)).is_relative_to(work):
        return None, False  # a parent directory was replaced by a symlink
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENXIO):
            return None, False  # no result file, or not a file the host should read
        raise InfrastructureError(
            f"could not read the result: {exc}", started=True, backend=BACKEND_ID
        ) from exc
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, False
        data = handle.read(limit + 1)
    return (None, True) if len(data) > limit else (data, False)


def _remove(root: Path) -> None:
    """Delete the execution's directory, even subdirectories the program made read-only."""
    for directory, subdirectories, _ in os.walk(root):
        for name in subdirectories:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o700)
    shutil.rmtree(root, ignore_errors=True)


@hookimpl
def turnout_register_backends(registry: BackendRegistry) -> None:
    registry.add(TempdirBackend)
