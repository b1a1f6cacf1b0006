"""The mutants: one class per rule of `turnout.backend`, each breaking exactly that rule.

Each docstring says what the mutant does and why that is a plausible bug of a real backend;
`rule` is the rule as docs/conformance.md lists it, and `tries_first` the case or cases
expected to catch it (the hunt runs them first, then, if they did not, the rest of the
suite). `MUTANTS` is the catalogue `turnout conformance --mutants` runs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from turnout.backend import truncation_marker
from turnout.conformance.mutants.base import MutantBackend
from turnout.errors import InfrastructureError
from turnout.models import MAX_TIMEOUT_MS, Capabilities, ExecutionRequest, ExecutionResult

__all__ = ["MUTANTS"]

# What local-subprocess printed on stderr of timed-out programs when its wrapper's noise
# leaked into the program's stream; a backend's own messages are never the program's.
NOISE = "unshare: sigprocmask unblock failed: Invalid argument\n"
_LAUNCHER = re.compile(r'__turnout_run\("([A-Za-z0-9+/=]*)", (?:None|null)\);?\n?$')


class TimeoutIgnored(MutantBackend):
    """Runs every program with the longest timeout there is: a backend that trusts a vendor
    default, or forgets to pass the node's timeout on."""

    id = "mutant-timeout-ignored"
    rule = "timeout_ms is enforced"
    tries_first = ("timeouts.sleep.python",)
    shows = "no result within"

    def request(self, request: ExecutionRequest) -> ExecutionRequest:
        return request.model_copy(update={"timeout_ms": MAX_TIMEOUT_MS})


class TimeoutLate(MutantBackend):
    """Stops programs at twice their timeout, as a vendor deadline does (E2B's run_code
    timeout fires at about 2T)."""

    id = "mutant-timeout-late"
    rule = "timeout_ms is enforced on time"
    tries_first = ("timeouts.late-enforcement-shows.python",)
    shows = "ms allowed"

    def request(self, request: ExecutionRequest) -> ExecutionRequest:
        return request.model_copy(
            update={"timeout_ms": min(2 * request.timeout_ms, MAX_TIMEOUT_MS)}
        )


class ProvisioningInflated(TimeoutLate):
    """Stops programs at twice their timeout and reports the extra time as `create`, so a
    wall-time bound that left all provisioning out would not see the delay."""

    id = "mutant-provisioning-inflated"
    rule = "provisioning time is reported honestly"
    tries_first = ("timeouts.late-enforcement-shows-despite-provisioning",)
    shows = "provisioning"

    def result(self, request: ExecutionRequest, result: ExecutionResult) -> ExecutionResult:
        timings = dict(result.timings_ms)
        timings["create"] = timings.get("create", 0.0) + request.timeout_ms
        return result.model_copy(update={"timings_ms": timings})


class ProgramOutlivesTimeout(MutantBackend):
    """Reports the timeout on time but never stops the program. Seen from outside, that is a
    second copy of the program started with it and left running when the first one times
    out (the reference itself always stops what it runs)."""

    id = "mutant-program-outlives-timeout"
    rule = "nothing survives a timeout: the program itself is stopped"
    tries_first = ("timeouts.sleep.python",)
    shows = "still running after the execution ended"

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        unstopped = request.model_copy(update={"timeout_ms": MAX_TIMEOUT_MS})
        copy = self.leave(self.reference.execute(unstopped))
        try:
            result = await self.reference.execute(request)
        except BaseException:
            copy.cancel()
            raise
        if result.termination != "timeout":
            copy.cancel()
        return result


class GrandchildSurvives(MutantBackend):
    """The reference without its PID namespace and cgroup: it kills the program's session and
    what works in its directory, so a grandchild that starts a session of its own and moves
    to / survives (a backend that kills only its process group)."""

    id = "mutant-grandchild-survives"
    rule = "nothing survives: processes the program started are stopped too"
    tries_first = ("security.daemonized-grandchild-at-timeout.python",)
    shows = "still running after the execution ended"
    reference_options: ClassVar[Mapping[str, Any]] = {
        "isolate_processes": False,
        "use_cgroups": False,
    }


class EnvironmentLeaked(MutantBackend):
    """Gives the program the host's environment, as a backend passing `os.environ` to its
    child (or to a sandbox's `envs`) does."""

    id = "mutant-environment-leaked"
    rule = "user code never sees the host environment"
    tries_first = ("isolation.host-secrets-invisible.python",)
    shows = "TURNOUT_CONFORMANCE_CANARY"

    def request(self, request: ExecutionRequest) -> ExecutionRequest:
        host = json.dumps(json.dumps(dict(os.environ)))
        if request.language == "python":
            line = f"__import__('os').environ.update(__import__('json').loads({host}))\n"
        else:
            line = f"Object.assign(process.env, JSON.parse({host}));\n"
        return request.model_copy(update={"program": line + request.program})


class OutputNotCapped(MutantBackend):
    """Declares the reference's usual 1 MiB cap on stdout and stderr but keeps 16 MiB."""

    id = "mutant-output-not-capped"
    rule = "stdout and stderr are cut at the declared max_output_bytes"
    tries_first = ("size.stdout-flood.python",)
    shows = "does not end with the marker"
    reference_options: ClassVar[Mapping[str, Any]] = {"output_cap_bytes": 16 * 1024 * 1024}

    def declare(self, capabilities: Capabilities) -> Capabilities:
        return capabilities.model_copy(update={"max_output_bytes": 1024 * 1024})


class TruncationUnmarked(MutantBackend):
    """Cuts stdout and stderr at the cap but leaves out the marker line, so a reader cannot
    tell a cut stream from a complete one."""

    id = "mutant-truncation-unmarked"
    rule = "a cut stream ends with the truncation marker"
    tries_first = ("size.stdout-flood.python",)
    shows = "does not end with the marker"

    def result(self, request: ExecutionRequest, result: ExecutionResult) -> ExecutionResult:
        cap = self.capabilities.max_output_bytes
        update: dict[str, Any] = {}
        for stream in ("stdout", "stderr"):
            marker = truncation_marker(stream, cap)
            text: str = getattr(result, stream)
            if getattr(result, f"{stream}_truncated") and text.endswith(marker):
                update[stream] = text[: -len(marker)]
        return result.model_copy(update=update)


class MemoryOverstated(MutantBackend):
    """Declares a 128 MB memory limit while the reference enforces its own (512 MB by
    default): a limit that is declared but does not hold for the execution as a whole."""

    id = "mutant-memory-not-enforced"
    rule = "the declared memory limit holds for the whole execution"
    tries_first = ("security.memory-bomb-across-processes.python",)
    shows = "output: expected true, got false"

    def declare(self, capabilities: Capabilities) -> Capabilities:
        return capabilities.model_copy(update={"memory_limit_mb": 128})


class SelfKillRetryable(MutantBackend):
    """Reports a program that died of a signal as `killed` (ended from outside), which the
    engine turns into a retryable infrastructure error: user code may run twice."""

    id = "mutant-self-kill-retryable"
    rule = "only an ending from outside is killed; a signal the code sent itself is its error"
    tries_first = ("errors.self-kill.python",)
    shows = "got InfrastructureError"

    def result(self, request: ExecutionRequest, result: ExecutionResult) -> ExecutionResult:
        if result.termination == "exited" and (result.exit_code or 0) > 128:
            return result.model_copy(update={"termination": "killed", "exit_code": None})
        return result


class CancellationIgnored(MutantBackend):
    """Lets the caller's cancellation through but keeps the execution running (a backend
    that shields its work, or forgets to kill on `CancelledError`)."""

    id = "mutant-cancellation-ignored"
    rule = "cancellation stops the execution and everything it started"
    tries_first = ("lifecycle.cancelled-mid-run.python",)
    shows = "still running after the execution ended"

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        work = self.leave(self.reference.execute(request))
        result: ExecutionResult = await asyncio.shield(work)
        return result


class CloseLeaks(MutantBackend):
    """Marks itself closed in `aclose` but releases nothing it holds (the reference's
    pre-started interpreters keep running)."""

    id = "mutant-close-leaks"
    rule = "aclose releases everything the instance holds"
    tries_first = ("lifecycle.closed-with-executions-in-flight.python",)
    shows = "still running after aclose"

    async def aclose(self) -> None:
        return None  # `reap` (the hunt's, afterwards) still closes the reference


class StderrNoise(MutantBackend):
    """Adds a message of its own to the program's stderr, as a wrapper sharing the program's
    stream does."""

    id = "mutant-stderr-noise"
    rule = "stdout and stderr are the program's own output"
    tries_first = ("errors.runtime-prior-stderr.python",)
    shows = "sigprocmask"

    def result(self, request: ExecutionRequest, result: ExecutionResult) -> ExecutionResult:
        return result.model_copy(update={"stderr": NOISE + result.stderr})


class WrongErrorKind(MutantBackend):
    """Reports a program stopped at its timeout as stopped for memory."""

    id = "mutant-wrong-error-kind"
    rule = "termination says why the program ended"
    tries_first = ("timeouts.sleep.python",)
    shows = "got CodeExecutionError (memory)"

    def result(self, request: ExecutionRequest, result: ExecutionResult) -> ExecutionResult:
        if result.termination == "timeout":
            return result.model_copy(update={"termination": "memory"})
        return result


class WrongLine(MutantBackend):
    """Returns the program's outcome with every error line one too far down, as a backend
    that adds a line of its own before the code would."""

    id = "mutant-wrong-line"
    rule = "the result file is returned as the program wrote it"
    tries_first = ("errors.syntax.python",)
    shows = "error line: expected"

    def result(self, request: ExecutionRequest, result: ExecutionResult) -> ExecutionResult:
        if result.result is None:
            return result
        try:
            outcome = json.loads(result.result)
        except ValueError:
            return result
        if not isinstance(outcome, dict) or not isinstance(outcome.get("line"), int):
            return result
        outcome["line"] += 1
        return result.model_copy(update={"result": json.dumps(outcome).encode()})


class InputsSpliced(MutantBackend):
    """Passes the payload (user code and inputs) as text spliced into the program's source,
    inside a string literal, instead of as the encoded bytes it was given: escapes in the
    payload are read as the language's own."""

    id = "mutant-inputs-spliced"
    rule = "the program is run exactly as given"
    tries_first = ("text.backslashes-in-code.python",)
    shows = "got CodeExecutionError"

    def request(self, request: ExecutionRequest) -> ExecutionRequest:
        found = _LAUNCHER.search(request.program)
        if found is None:  # a large payload travels as a file: left alone
            return request
        text = base64.b64decode(found.group(1)).decode("utf-8")
        if request.language == "python":
            launcher = (
                "__turnout_run(__import__('base64').b64encode('''"
                + text
                + "'''.encode('utf-8', 'surrogatepass')).decode(), None)\n"
            )
        else:
            launcher = "__turnout_run(Buffer.from(`" + text + "`).toString('base64'), null);\n"
        return request.model_copy(update={"program": request.program[: found.start()] + launcher})


class UserFailureRaised(MutantBackend):
    """Raises an infrastructure error when the program exits with a non-zero status, as a
    backend does that lets a vendor's "command failed" exception through its translation:
    a user's failure becomes a retryable error, so the code may run twice."""

    id = "mutant-user-failure-raised"
    rule = "a user-code failure is a result, not an exception"
    tries_first = ("errors.python-os-exit",)
    shows = "got InfrastructureError"

    def result(self, request: ExecutionRequest, result: ExecutionResult) -> ExecutionResult:
        if result.termination == "exited" and result.exit_code not in (None, 0):
            raise InfrastructureError(
                f"the program exited with status {result.exit_code}", started=True, backend=self.id
            )
        return result


class CancellationTranslated(MutantBackend):
    """Turns the caller's cancellation into an infrastructure error, as a translation layer
    catching `BaseException` does: the caller that gave up gets an error to retry instead of
    its cancellation (the reference still stops the program)."""

    id = "mutant-cancellation-translated"
    rule = "a cancelled execution raises CancelledError, nothing else"
    tries_first = ("lifecycle.cancelled-mid-run.python",)
    shows = "instead of raising CancelledError"

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        try:
            return await self.reference.execute(request)
        except asyncio.CancelledError as cancelled:
            raise InfrastructureError(
                "the execution was interrupted", started=True, backend=self.id
            ) from cancelled


class FilesDropped(MutantBackend):
    """Runs the program without writing the request's `files`, as a backend that uploads
    only the program does (large payloads travel as a file, so their nodes find no input)."""

    id = "mutant-files-dropped"
    rule = "files are written before the program starts"
    tries_first = ("size.array-100k-input.python",)
    shows = "got CodeExecutionError"

    def request(self, request: ExecutionRequest) -> ExecutionRequest:
        return request.model_copy(update={"files": {}})


MUTANTS: tuple[type[MutantBackend], ...] = (
    TimeoutIgnored,
    TimeoutLate,
    ProvisioningInflated,
    ProgramOutlivesTimeout,
    GrandchildSurvives,
    EnvironmentLeaked,
    OutputNotCapped,
    TruncationUnmarked,
    MemoryOverstated,
    SelfKillRetryable,
    CancellationIgnored,
    CloseLeaks,
    StderrNoise,
    WrongErrorKind,
    WrongLine,
    InputsSpliced,
    UserFailureRaised,
    CancellationTranslated,
    FilesDropped,
)
