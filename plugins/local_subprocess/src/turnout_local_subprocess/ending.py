"""How one execution ended, as the backend reports it to the engine.

`check_ready` raises when the namespace's init could not set up (the program never ran);
`classify` turns what the process and the namespace's init said into a termination and
an exit code; `report` builds the `ExecutionResult`, dropping a result file written
before turnout stopped the program (a killed execution is an error: the engine takes a
result as the truth, so reporting one with a kill would make the kill a success).
"""

from __future__ import annotations

from turnout.errors import InfrastructureError
from turnout.logging import get_logger
from turnout.models import ExecutionRequest, ExecutionResult, Language, Termination
from turnout_local_subprocess.isolation import InitReport
from turnout_local_subprocess.options import BACKEND_ID
from turnout_local_subprocess.process import RunOutcome
from turnout_local_subprocess.workdir import ResultFile

__all__ = ["HEAP_EXHAUSTED", "check_ready", "classify", "report"]

logger = get_logger("turnout.local_subprocess")

# V8's last words when it aborts for memory: the heap past --max-old-space-size ("JavaScript
# heap out of memory", "Reached heap limit"), or memory outside the heap refused by the rlimit
# or the cgroup ("FATAL ERROR: v8::ArrayBuffer::NewBackingStore Allocation failed - process
# out of memory", "Fatal process out of memory: ..."), seen with a console.log flood whose
# queued writes outgrow the limit.
HEAP_EXHAUSTED = ("JavaScript heap out of memory", "Reached heap limit", "process out of memory")


def report(
    request: ExecutionRequest,
    outcome: RunOutcome,
    init: InitReport | None,
    memory_exhausted: bool,
    result: ResultFile,
    timings: dict[str, float],
) -> ExecutionResult:
    termination, exit_code = classify(outcome, init, request.language, memory_exhausted)
    # The engine takes a result as the truth; one written before turnout stopped the
    # program (its output still draining, an exit hook still running) must not turn a
    # kill into a success.
    stopped = termination != "exited" and (result.data is not None or result.too_large)
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
        result_dropped=stopped,
        duration_ms=round(timings["total"], 1),
    )
    if stopped:
        result = ResultFile(None)
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


def classify(
    outcome: RunOutcome, init: InitReport | None, language: Language, memory_exhausted: bool
) -> tuple[Termination, int | None]:
    """How the program ended; a signal death reports the shell's 128 + signal number.

    The only signals turnout sends are the timeout's (and a cancellation's, which has no
    result). Running out of memory shows in the jail's OOM counter or in V8's last words.
    Any other signal death of the program is its own doing (a segmentation fault, killing
    itself) and is `exited` with 128 + n: a runtime error of the user's code, never the
    retryable `killed`. `killed` is left for a sandbox ended from outside: with
    namespaces, an init that never reported the program's exit status, which code inside
    the namespace cannot bring about (see `isolation`).
    """
    if outcome.timed_out:
        return "timeout", None
    if init is not None:
        if init.status is None:
            if memory_exhausted:
                return "memory", None
            wrapper = outcome.returncode
            return "killed", 128 - wrapper if wrapper is not None and wrapper < 0 else None
        returncode: int | None = init.status
    else:
        returncode = outcome.returncode
    if returncode is None:
        return "killed", None
    if returncode != 0 and (
        memory_exhausted or (language == "javascript" and _heap_exhausted(outcome))
    ):
        return "memory", None
    if returncode < 0:
        return "exited", 128 - returncode
    return "exited", returncode


def _heap_exhausted(outcome: RunOutcome) -> bool:
    # V8 prints this last, so the tail has it even when stderr was cut at the cap.
    seen = (outcome.stderr.tail_text(), outcome.stderr.text())
    return any(marker in text for marker in HEAP_EXHAUSTED for text in seen)


def check_ready(report: InitReport | None, *, timed_out: bool) -> None:
    """Raise if the namespace's init could not set up: the program never ran. An init the
    timeout killed before it said anything was not failing: the timeout was shorter than
    the set-up, and the execution is the user's timeout."""
    if report is None or report.ready or (timed_out and not report.said):
        return
    raise InfrastructureError(
        f"could not set up the execution's namespace: {report.said or 'it said nothing'}",
        started=False,
        backend=BACKEND_ID,
    )
