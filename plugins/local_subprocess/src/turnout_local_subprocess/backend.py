"""The deprecated local-subprocess backend: each program runs as a confined child process.

Kept so environments can keep running while they move to a sandboxing backend. It is
honest about what it is: isolation is a process (no network cut, the host's filesystem
is visible), memory is bounded by a cgroup where the host allows it and by rlimits
otherwise, and `capabilities` says which.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from typing import ClassVar

import structlog

from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError, InfrastructureError
from turnout.models import (
    MAX_TIMEOUT_MS,
    Capabilities,
    ExecutionRequest,
    ExecutionResult,
    Language,
    Termination,
)
from turnout_local_subprocess import cgroups
from turnout_local_subprocess.deprecation import announce_legacy_load, refuse_if_disallowed
from turnout_local_subprocess.limits import Confinement, node_heap_mb
from turnout_local_subprocess.options import BACKEND_ID, LocalSubprocessOptions, parse_options
from turnout_local_subprocess.process import RunOutcome, run_program
from turnout_local_subprocess.workdir import ResultFile, Workspace

__all__ = ["LocalSubprocessBackend"]

logger = structlog.get_logger("turnout.local_subprocess")

# Default Python: the base interpreter turnout itself runs on. Not `python3` from PATH, which
# may be a version-manager shim (pyenv adds ~60 ms and its own variables per start), and not
# turnout's virtualenv, whose packages user code must not see.
DEFAULT_PYTHON = getattr(sys, "_base_executable", None) or sys.executable or "python3"
INTERPRETERS: dict[Language, tuple[str, str]] = {
    "python": ("python", DEFAULT_PYTHON),
    "javascript": ("node", "node"),
}
HEAP_EXHAUSTED = ("JavaScript heap out of memory", "Reached heap limit")


class LocalSubprocessBackend:
    """Runs each request as a child process of this host, in a fresh temporary directory."""

    id: ClassVar[str] = BACKEND_ID
    deprecated: ClassVar[bool] = True
    description: ClassVar[str] = (
        "DEPRECATED: runs code nodes as local child processes (process isolation only, "
        "network not cut); kept for environments not yet moved to a sandboxing backend"
    )

    def __init__(self, settings: BackendSettings) -> None:
        refuse_if_disallowed(settings)
        self._options = parse_options(settings.options)
        self._cgroups = _select_cgroups(self._options)
        self._interpreters: dict[Language, str] = {}
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        self._capabilities = Capabilities(
            languages=frozenset(INTERPRETERS),
            isolation="process",
            network_access=True,
            max_timeout_ms=MAX_TIMEOUT_MS,
            max_output_bytes=self._options.output_cap_bytes,
            max_result_bytes=self._options.max_result_bytes,
            memory_limit_mb=self._options.memory_mb,
            memory_enforcement="cgroup" if self._cgroups is not None else "rlimit",
            host_environment_visible=False,
            supports_typescript=False,
        )
        announce_legacy_load(settings, self._capabilities.memory_enforcement)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def options(self) -> LocalSubprocessOptions:
        return self._options

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        """Run one program; waits for a free slot first when max_concurrency are running.

        The timeout starts when the process does, so time spent waiting for a slot (reported
        as `timings_ms["queue"]`) is not taken from the program.
        """
        if self._closed:
            raise InfrastructureError(
                f"the {BACKEND_ID} backend was closed", retryable=False, backend=BACKEND_ID
            )
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._options.max_concurrency)
        queued = time.perf_counter()
        async with self._slots:
            return await self._execute(request, queued)

    async def aclose(self) -> None:
        """Refuse new executions; running ones still finish and clean up after themselves."""
        self._closed = True

    async def _execute(self, request: ExecutionRequest, queued: float) -> ExecutionResult:
        begun = time.perf_counter()
        interpreter = self._interpreter(request.language)
        try:
            workspace = Workspace.create()
        except OSError as exc:
            raise _infrastructure("could not create the working directory", exc) from exc
        try:
            workspace.inside(request.result_path, what="result_path")
            try:
                workspace.write_files(request.files)
                program = workspace.write_program(request.language, request.program)
            except OSError as exc:
                raise _infrastructure("could not write the request files", exc) from exc
            prepared = time.perf_counter()
            argv = [*self._argv(request.language, interpreter), str(program)]
            outcome, memory_exhausted = await self._run(request, argv, workspace)
            result = self._read_result(workspace, request)
        finally:
            if not await asyncio.to_thread(workspace.remove):
                logger.warning("workdir_not_removed", execution_id=request.execution_id)
        finished = time.perf_counter()
        timings = {
            "queue": (begun - queued) * 1000,
            "setup": (prepared - begun) * 1000,
            "spawn": outcome.spawn_ms,
            "run": outcome.run_ms,
            "cleanup": (finished - prepared) * 1000 - outcome.spawn_ms - outcome.run_ms,
            "total": (finished - queued) * 1000,
        }
        return _report(request, outcome, memory_exhausted, result, timings)

    async def _run(
        self, request: ExecutionRequest, argv: list[str], workspace: Workspace
    ) -> tuple[RunOutcome, bool]:
        """Run inside a fresh confinement; returns the outcome and whether memory ran out."""
        try:
            confinement = Confinement.create(
                request.language,
                memory_mb=self._options.memory_mb,
                pids_max=self._options.pids_max,
                workdir=workspace.work,
                cgroups=self._cgroups,
            )
        except OSError as exc:
            raise _infrastructure("could not create the execution's cgroup", exc) from exc
        try:
            with confinement.preexec() as preexec:
                outcome = await run_program(
                    argv,
                    cwd=workspace.work,
                    env=_environment(workspace.work),
                    preexec=preexec,
                    timeout_s=request.timeout_ms / 1000,
                    output_cap=self._options.output_cap_bytes,
                    on_start=confinement.attach,
                    kill_all=confinement.kill_all,
                )
            # Read before release: the counters go away with the cgroup.
            return outcome, confinement.memory_exhausted()
        finally:
            if not await confinement.release():
                logger.warning("cgroup_not_removed", execution_id=request.execution_id)

    def _interpreter(self, language: Language) -> str:
        """Find the interpreter at first use, so a host without Node can still run Python."""
        if language not in self._interpreters:
            option, default = INTERPRETERS[language]
            name = getattr(self._options, option) or default
            found = shutil.which(name)
            if found is None:
                raise ConfigurationError(
                    f"the {BACKEND_ID} backend cannot run {language}: interpreter {name!r} "
                    f"was not found on PATH; set the {option!r} option of the {BACKEND_ID} "
                    "backend in feature_flags.toml to the interpreter's path"
                )
            self._interpreters[language] = found
        return self._interpreters[language]

    def _argv(self, language: Language, interpreter: str) -> list[str]:
        if language == "python":
            # -u: output reaches the pipe as it is written (as E2B streams it), so what a
            # timed-out program printed is not lost in its buffer.
            return [interpreter, "-I", "-u"]
        return [interpreter, f"--max-old-space-size={node_heap_mb(self._options.memory_mb)}"]

    def _read_result(self, workspace: Workspace, request: ExecutionRequest) -> ResultFile:
        limit = min(request.max_result_bytes, self._options.max_result_bytes)
        try:
            return workspace.read_result(request.result_path, limit)
        except OSError as exc:
            raise _infrastructure("could not read the result file", exc, started=True) from exc


def _select_cgroups(options: LocalSubprocessOptions) -> cgroups.CgroupHost | None:
    if options.use_cgroups is False:
        return None
    host = cgroups.probe()
    if host is None and options.use_cgroups is True:
        raise ConfigurationError(
            f"the {BACKEND_ID} backend has use_cgroups = true, but cgroup v1 memory at "
            f"{cgroups.CGROUP_MOUNT / 'memory'} is missing or not writable; run as a user "
            'that may create cgroups there, or set use_cgroups = "auto" or false'
        )
    if host is not None:
        for name in cgroups.sweep_stale(host):
            logger.info("stale_cgroup_removed", cgroup=name)
    return host


def _environment(home: os.PathLike[str]) -> dict[str, str]:
    """Everything user code gets from the host: an allow-list, never a copy of os.environ."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": os.fspath(home),
        "TZ": "UTC",
    }


def _report(
    request: ExecutionRequest,
    outcome: RunOutcome,
    memory_exhausted: bool,
    result: ResultFile,
    timings: dict[str, float],
) -> ExecutionResult:
    termination, exit_code = _classify(outcome, request.language, memory_exhausted)
    logger.info(
        "execution_finished",
        backend=BACKEND_ID,
        execution_id=request.execution_id,
        language=request.language,
        termination=termination,
        exit_code=exit_code,
        stdout_bytes=outcome.stdout.total,
        stderr_bytes=outcome.stderr.total,
        result_bytes=None if result.data is None else len(result.data),
        duration_ms=round(timings["total"], 1),
    )
    return ExecutionResult(
        stdout=outcome.stdout.text(),
        stderr=outcome.stderr.text(),
        stdout_truncated=outcome.stdout.truncated,
        stderr_truncated=outcome.stderr.truncated,
        result=result.data,
        result_too_large=result.too_large,
        termination=termination,
        exit_code=exit_code,
        sandbox_id=None,
        timings_ms=timings,
    )


def _classify(
    outcome: RunOutcome, language: Language, memory_exhausted: bool
) -> tuple[Termination, int | None]:
    """How the program ended; a signal death reports the shell's 128 + signal number."""
    returncode = outcome.returncode
    if outcome.timed_out:
        return "timeout", None
    if returncode is None:
        return "killed", None
    if returncode != 0 and (
        memory_exhausted or (language == "javascript" and _heap_exhausted(outcome))
    ):
        return "memory", None
    if returncode < 0:
        return "killed", 128 - returncode
    return "exited", returncode


def _heap_exhausted(outcome: RunOutcome) -> bool:
    # V8 prints this last, so the tail has it even when stderr was cut at the cap.
    seen = (outcome.stderr.tail_text(), outcome.stderr.text())
    return any(marker in text for marker in HEAP_EXHAUSTED for text in seen)


def _infrastructure(what: str, exc: OSError, *, started: bool = False) -> InfrastructureError:
    return InfrastructureError(f"{what}: {exc}", started=started, backend=BACKEND_ID)
