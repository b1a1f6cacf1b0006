"""The deprecated local-subprocess backend: each program runs as a confined child process.

Kept so environments can keep running while they move to a sandboxing backend. It is
honest about what it is: isolation is a process (no network cut, the host's filesystem
is visible), in its own PID, mount and IPC namespace where the host allows it
(`isolation`), as a dedicated unprivileged uid where the worker is root (`identity`),
memory is bounded by a cgroup where the host allows it and by rlimits otherwise, and
`capabilities` says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import Any, ClassVar

from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError, InfrastructureError
from turnout.logging import get_logger
from turnout.models import (
    MAX_TIMEOUT_MS,
    Capabilities,
    ExecutionRequest,
    ExecutionResult,
    Language,
)
from turnout.tracing import sandbox_created, span
from turnout_local_subprocess import ending, host, isolation
from turnout_local_subprocess.deprecation import announce_legacy_load, refuse_if_disallowed
from turnout_local_subprocess.interpreters import (
    INTERPRETERS,
    Interpreters,
    importable_packages,
    program_environment,
)
from turnout_local_subprocess.limits import Confinement
from turnout_local_subprocess.options import BACKEND_ID, LocalSubprocessOptions, parse_options
from turnout_local_subprocess.process import RunOutcome, run_program
from turnout_local_subprocess.release import Releases
from turnout_local_subprocess.spare import Channel, Spare, write_stub
from turnout_local_subprocess.workdir import ResultFile, Workspace

__all__ = ["LocalSubprocessBackend"]

logger = get_logger("turnout.local_subprocess")

# After the kill grace of run_program (0.2 s), how long execute() waits for the jail to be
# released and the directory removed before returning; whatever is not done by then
# finishes in the background. Together they keep a timed-out call within timeout + 0.5 s.
CLEANUP_BUDGET_S = 0.2
# How long a spare that was never handed a program may take to exit once told to.
SPARE_EXIT_TIMEOUT_S = 5.0
# Exit statuses with which a shell or `setpriv` reports that it could not exec a program
# (not executable, not found). A program may exit with them too, so they only trigger a
# check of the interpreter (`_start_problem`), never a verdict by themselves.
EXEC_FAILED = (126, 127)
START_CHECK_TIMEOUT_S = 10.0


async def _handed_over(spare: Spare, program: Path, timeout_s: float) -> RunOutcome:
    """Run `program` in `spare`; cancelled, the run is cancelled too (which kills it)."""
    spare.hand_over(program, timeout_s)
    try:
        return await asyncio.shield(spare.run)
    except asyncio.CancelledError:
        spare.run.cancel()
        with contextlib.suppress(BaseException):
            await spare.run
        raise


class LocalSubprocessBackend:
    """Runs each request as a child process of this host, in a fresh temporary directory."""

    id: ClassVar[str] = BACKEND_ID
    deprecated: ClassVar[bool] = True
    description: ClassVar[str] = (
        "DEPRECATED: runs code nodes as local child processes (process isolation only, "
        "network not cut); kept for environments not yet moved to a sandboxing backend"
    )
    options_model: ClassVar[type[LocalSubprocessOptions]] = LocalSubprocessOptions

    def __init__(self, settings: BackendSettings) -> None:
        refuse_if_disallowed(settings)
        self._options = parse_options(settings.options)
        self._keep_warm = settings.keep_warm
        self._cgroups = host.select_cgroups(self._options)
        self._namespaces = host.select_namespaces(self._options)
        if self._options.undumpable_worker and not isolation.mark_worker_undumpable():
            logger.warning("worker_not_undumpable", reason="prctl(PR_SET_DUMPABLE, 0) failed")
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        self._releases = Releases()
        # Pre-started single-use Python interpreters (see `spare`), oldest first.
        self._spares: list[Spare] = []
        self._spare_starts: set[asyncio.Task[None]] = set()
        # Executions under way, and the event aclose() waits on before it takes away the
        # interpreters they run (set whenever none is).
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        # With namespaces user code sees no other process's /proc entry, so neither the
        # worker's environment nor its ancestors'; and its /tmp, /var/tmp and /dev/shm are
        # private. Without them, same-user code can read /proc/<worker pid>/environ.
        # Without a separate identity, code runs as the worker's user and (as root) can
        # undo all of it.
        isolated = self._namespaces is not None
        self._owner = None if self._namespaces is None else self._namespaces.identity
        self._interpreters = Interpreters(
            self._options,
            owner=self._owner,
            scratch=() if self._namespaces is None else self._namespaces.scratch,
        )
        self._capabilities = Capabilities(
            languages=frozenset(INTERPRETERS),
            isolation="process",
            network_access=True,
            max_timeout_ms=MAX_TIMEOUT_MS,
            max_output_bytes=self._options.output_cap_bytes,
            max_result_bytes=self._options.max_result_bytes,
            memory_limit_mb=self._options.memory_mb,
            memory_enforcement="cgroup" if self._cgroups is not None else "rlimit",
            host_environment_visible=not isolated,
            supports_typescript=False,
            persistent_filesystem=not isolated,
            code_runs_as_worker_user=self._owner is None,
        ).model_copy(update={"packages": importable_packages(self._options)})
        announce_legacy_load(
            settings,
            memory_enforcement=self._capabilities.memory_enforcement,
            process_isolation="namespace" if isolated else "none",
            code_user="worker" if self._owner is None else f"{self._owner.uid}:{self._owner.gid}",
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def options(self) -> LocalSubprocessOptions:
        return self._options

    @property
    def max_concurrency(self) -> int:
        """Executions run at once; more wait for a slot (the optional protocol member)."""
        return self._options.max_concurrency

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
        if self._idle is None:
            self._idle = asyncio.Event()
        queued = time.perf_counter()
        self._in_flight += 1
        self._idle.clear()
        try:
            async with self._slots:
                with span("turnout.sandbox.run") as traced:
                    traced.set(language=request.language)
                    return await self._execute(request, queued)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def aclose(self) -> None:
        """Refuse new executions; running ones still finish and clean up after themselves.

        Also waits for clean-ups that outlived their execution's budget (each is bounded).
        """
        self._closed = True
        if self._spare_starts:
            await asyncio.wait(set(self._spare_starts))
        spares, self._spares = self._spares, []
        for spare in spares:
            await spare.discard()
            await self._releases.release("spare", spare.confinement, spare.workspace)
        if self._idle is not None and self._in_flight:
            await self._idle.wait()  # each is bounded by its own timeout
        await self._releases.wait()
        await asyncio.to_thread(self._interpreters.close)

    async def _execute(self, request: ExecutionRequest, queued: float) -> ExecutionResult:
        begun = time.perf_counter()
        interpreter = self._interpreters.find(request.language)
        spare = self._take_spare(request.language)
        if spare is not None:
            workspace: Workspace = spare.workspace
        else:
            try:
                workspace = Workspace.create(owner=self._owner)
            except OSError as exc:
                raise _infrastructure("could not create the working directory", exc) from exc
        confinement: Confinement | None = None if spare is None else spare.confinement
        try:
            workspace.inside(request.result_path, what="result_path")
            try:
                workspace.write_files(request.files)
                program = workspace.write_program(request.language, request.program)
            except OSError as exc:
                raise _infrastructure("could not write the request files", exc) from exc
            if spare is not None and confinement is not None:
                prepared = time.perf_counter()
                outcome = await _handed_over(spare, program, request.timeout_ms / 1000)
            else:
                confinement = self._confine(request.language, workspace)
                argv = self._command(request.language, interpreter, program, workspace, confinement)
                prepared = time.perf_counter()
                outcome = await self._run(
                    argv, workspace, confinement, timeout_s=request.timeout_ms / 1000
                )
            # Read before release: the counters go away with the cgroup.
            memory_exhausted = confinement.memory_exhausted()
            report = None if outcome.report is None else isolation.read_report(outcome.report)
            ending.check_ready(report, timed_out=outcome.timed_out)
            status = outcome.returncode if report is None else report.status
            if not outcome.timed_out and status in EXEC_FAILED:
                await self._check_interpreter(request.language, interpreter)
            result = self._read_result(workspace, request)
        finally:
            await self._releases.release_within(
                CLEANUP_BUDGET_S, request.execution_id, confinement, workspace
            )
        finished = time.perf_counter()
        timings = {
            "queue": (begun - queued) * 1000,
            "setup": (prepared - begun) * 1000,
            "spawn": outcome.spawn_ms,
            "run": outcome.run_ms,
            "cleanup": (finished - prepared) * 1000 - outcome.spawn_ms - outcome.run_ms,
            "total": (finished - queued) * 1000,
        }
        return ending.report(request, outcome, report, memory_exhausted, result, timings)

    def _confine(self, language: Language, workspace: Workspace) -> Confinement:
        try:
            confinement = Confinement.create(
                language,
                memory_mb=self._options.memory_mb,
                pids_max=self._options.pids_max,
                workdir=workspace.work,
                cgroups=self._cgroups,
                isolated=self._namespaces is not None,
            )
        except OSError as exc:
            raise _infrastructure("could not create the execution's cgroup", exc) from exc
        sandbox_created(BACKEND_ID)  # until its release (`release`)
        return confinement

    def _command(
        self,
        language: Language,
        interpreter: str,
        program: os.PathLike[str],
        workspace: Workspace,
        confinement: Confinement,
    ) -> list[str]:
        argv = [*self._interpreters.argv(language, interpreter), os.fspath(program)]
        return self._wrap(language, argv, workspace, confinement)

    def _wrap(
        self, language: Language, argv: list[str], workspace: Workspace, confinement: Confinement
    ) -> list[str]:
        if self._namespaces is None:
            return argv
        try:
            return self._namespaces.command(
                workspace,
                argv,
                limit=confinement.shell_limit,
                kit=self._interpreters.kits.get(language),
            )
        except OSError as exc:
            raise _infrastructure("could not prepare the private scratch directories", exc) from exc

    async def _run(
        self,
        argv: list[str],
        workspace: Workspace,
        confinement: Confinement,
        *,
        timeout_s: float,
        handover: asyncio.Future[tuple[float, float]] | None = None,
        pass_fds: tuple[int, ...] = (),
        spawned: asyncio.Future[None] | None = None,
    ) -> RunOutcome:
        """Run `argv` confined; `spawned` (if given) resolves once the child exists."""

        def on_start(pid: int) -> None:
            confinement.attach(pid)
            if spawned is not None and not spawned.done():
                spawned.set_result(None)

        return await run_program(
            [*confinement.prelude(), *argv],
            cwd=workspace.work,
            env=program_environment(workspace.work),
            timeout_s=timeout_s,
            output_cap=self._options.output_cap_bytes,
            on_start=on_start,
            kill_all=confinement.kill_all,
            wrapped=self._namespaces is not None,
            handover=handover,
            pass_fds=pass_fds,
        )

    # -- pre-started interpreters (see `spare`) --------------------------------------------

    def _take_spare(self, language: Language) -> Spare | None:
        """A waiting spare for a Python execution, if one is alive; starts replacements."""
        if language != "python" or not self._options.prestart_python or self._closed:
            return None
        taken = None
        while self._spares and taken is None:
            spare = self._spares.pop(0)
            if spare.alive:
                taken = spare
            else:
                self._discard(spare)
        self._start_spares()
        return taken

    def _start_spares(self) -> None:
        """Start preparing spares until `prestart_python` are waiting or being made (none
        where the engine said not to keep warm: a one-shot process)."""
        wanted = self._options.prestart_python - len(self._spares) - len(self._spare_starts)
        if not self._keep_warm:
            wanted = 0
        for _ in range(0 if self._closed else wanted):
            task = asyncio.get_running_loop().create_task(self._prepare_spare())
            self._spare_starts.add(task)
            task.add_done_callback(self._spare_starts.discard)

    async def _prepare_spare(self) -> None:
        """Prepare one Python execution up to its program; a failure only means no spare."""
        try:
            interpreter = self._interpreters.find("python")
            workspace = Workspace.create(owner=self._owner)
        except (OSError, ConfigurationError, InfrastructureError) as exc:
            logger.warning("spare_not_started", error=str(exc))
            return
        confinement: Confinement | None = None
        channel: Channel | None = None
        try:
            stub = write_stub(workspace)
            confinement = self._confine("python", workspace)
            channel = Channel.open()
            argv = self._command("python", interpreter, stub, workspace, confinement)
            argv.append(str(channel.child_fd))
            loop = asyncio.get_running_loop()
            handover: asyncio.Future[tuple[float, float]] = loop.create_future()
            spawned: asyncio.Future[None] = loop.create_future()
            run = loop.create_task(
                self._run(
                    argv,
                    workspace,
                    confinement,
                    timeout_s=SPARE_EXIT_TIMEOUT_S,
                    handover=handover,
                    pass_fds=(channel.child_fd,),
                    spawned=spawned,
                )
            )
            spare = Spare(workspace, confinement, channel, run, handover)
            # Offered only once its interpreter exists: the child must have its copy of the
            # pipe before ours is closed, and an execution must never wait for a spawn.
            first: set[asyncio.Future[Any]] = {spawned, run}
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            channel.close_child_end()
            if run.done():
                run.result()  # raises what the spawn raised
                raise InfrastructureError("the pre-started interpreter exited at once")
        except (OSError, InfrastructureError) as exc:
            logger.warning("spare_not_started", error=str(exc))
            if channel is not None:
                channel.close()
            await self._releases.release("spare", confinement, workspace)
            return
        if self._closed or len(self._spares) >= self._options.prestart_python:
            self._discard(spare)
        else:
            self._spares.append(spare)

    def _discard(self, spare: Spare) -> None:
        async def discard() -> None:
            await spare.discard()
            await self._releases.release("spare", spare.confinement, spare.workspace)

        self._releases.in_background(discard())

    async def _check_interpreter(self, language: Language, interpreter: str) -> None:
        """After an exit status that may mean "could not exec": raise if the interpreter
        cannot be started here, checked by starting it (`--version`) through the same
        wrapper. The program's own output is never taken as evidence, since it could
        print what an exec failure prints. A check that cannot finish decides nothing."""
        try:
            workspace = Workspace.create(owner=self._owner)
        except OSError as exc:
            what = "could not create a directory to check the interpreter"
            raise _infrastructure(what, exc) from exc
        confinement: Confinement | None = None
        try:
            confinement = self._confine(language, workspace)
            argv = [*self._interpreters.argv(language, interpreter), "--version"]
            argv = self._wrap(language, argv, workspace, confinement)
            outcome = await self._run(argv, workspace, confinement, timeout_s=START_CHECK_TIMEOUT_S)
            report = None if outcome.report is None else isolation.read_report(outcome.report)
        finally:
            await self._releases.release("start-check", confinement, workspace)
        status = outcome.returncode if report is None else report.status
        if outcome.timed_out or status is None or status == 0:
            return
        said = (
            outcome.stderr.text().strip() or (report.said if report else "") or f"status {status}"
        )
        raise InfrastructureError(
            f"could not start {interpreter!r}: {said}",
            started=False,
            backend=BACKEND_ID,
        )

    def _read_result(self, workspace: Workspace, request: ExecutionRequest) -> ResultFile:
        limit = min(request.max_result_bytes, self._options.max_result_bytes)
        try:
            return workspace.read_result(request.result_path, limit)
        except OSError as exc:
            raise _infrastructure("could not read the result file", exc, started=True) from exc


def _infrastructure(what: str, exc: OSError, *, started: bool = False) -> InfrastructureError:
    return InfrastructureError(f"{what}: {exc}", started=started, backend=BACKEND_ID)
