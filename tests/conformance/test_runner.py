"""The runner on fake backends: statuses, the ledger's strict expected failures, the
differential against the reference, concurrency slots, and the host process scan."""

from __future__ import annotations

import base64
import datetime
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from turnout.conformance.cases import Case
from turnout.conformance.ledger import Ledger, LedgerEntry
from turnout.conformance.runner import _slots, conclude, host_survivors
from turnout.conformance.timing import PROVISIONING_CAP_MS
from turnout.logging import capture_logs
from turnout.models import ExecutionRequest, ExecutionResult

from .support import fake_backend, load_case_file, make_runner, one_case, result, write_cases

pytestmark = pytest.mark.usefixtures("no_flag_file")

EXPECTS_TWO = """
[[cases]]
id = "t.two"
description = "returns two"
config = { language = "python", code = "return 2" }
expect = { output = 2 }
"""


def decoded_code(program: str) -> str:
    """The node's code inside a prepared program (it travels base64-encoded JSON)."""
    [encoded] = re.findall(r'__turnout_run\("([A-Za-z0-9+/=]+)"', program)
    return str(json.loads(base64.b64decode(encoded))["code"])


def ledger_for(case_id: str, backend: str) -> Ledger:
    entry = LedgerEntry(
        case=case_id,
        backend=backend,
        reason="known difference, accepted for the test",
        decided=datetime.date(2025, 1, 1),
    )
    return Ledger((entry,), "test-ledger")


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return one_case(tmp_path, EXPECTS_TWO)


class TestRunNode:
    async def test_an_envelope_becomes_an_observation(self) -> None:
        """run_node returns what execute_code_node would, as an observation."""
        runner = make_runner(fake_backend("ref", value=2, stdout="hi\n"))
        observation = await runner.run_node("ref", {"language": "python", "code": "x"}, {})
        assert observation.envelope is not None
        assert (observation.envelope["output"], observation.stdout) == (2, "hi\n")

    async def test_a_node_runs_through_the_engine_on_the_backend_under_test(self) -> None:
        """The runner does not rebuild the execution: it is the engine's `direct` run on
        the backend under test, which logs its one `code_node_executed` as such."""
        runner = make_runner(fake_backend("ref"))
        with capture_logs() as logs:
            await runner.run_node("ref", {"language": "python", "code": "x"}, {})
        [event] = [entry for entry in logs if entry["event"] == "code_node_executed"]
        assert (event["role"], event["backend"]) == ("direct", "ref")

    async def test_an_invalid_config_becomes_an_error_observation(self) -> None:
        """A ValidationError is observed, not raised."""
        runner = make_runner(fake_backend("ref"))
        observation = await runner.run_node("ref", {"language": "python", "code": ""}, {})
        assert observation.error is not None
        assert (observation.error.type, observation.error.field) == ("ValidationError", "code")

    async def test_output_variable_wraps_the_envelope(self) -> None:
        """An outputVariable is observed as the wrapping name."""
        runner = make_runner(fake_backend("ref"))
        config = {"language": "python", "code": "x", "outputVariable": "out"}
        assert (await runner.run_node("ref", config, {})).wrapped_as == "out"

    async def test_provisioning_is_left_out_of_the_wall_time(self) -> None:
        """Time a backend reports as provisioning (queue, create, pool_take) is recorded
        beside the wall time and subtracted from it, so timeout bounds measure the code."""
        provisioning = {"queue": 100.0, "create": 150.0, "pool_take": 50.0, "run": 1.0}
        runner = make_runner(fake_backend("ref", timings_ms=provisioning, sleep_s=0.3))
        started = time.perf_counter()
        observation = await runner.run_node("ref", {"language": "python", "code": "x"}, {})
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert observation.provisioning_ms == 300.0
        assert 0 <= observation.wall_ms <= elapsed_ms - 300.0

    async def test_provisioning_beyond_the_cap_counts_as_the_codes_time(self) -> None:
        """A backend that reports more provisioning than the cap gets only the cap left out
        of its wall time, and both figures are kept."""
        runner = make_runner(fake_backend("ref", timings_ms={"create": PROVISIONING_CAP_MS + 5000}))
        observation = await runner.run_node("ref", {"language": "python", "code": "x"}, {})
        assert observation.provisioning_ms == PROVISIONING_CAP_MS
        assert observation.provisioning_reported_ms == PROVISIONING_CAP_MS + 5000

    async def test_a_call_past_its_deadline_is_cancelled_and_said_to_be_overdue(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A backend that keeps a call running past max_wall_ms plus the provisioning cap is
        cancelled by the runner, and the observation says so instead of waiting forever."""
        monkeypatch.setattr("turnout.conformance.deadline.PROVISIONING_CAP_MS", 100.0)
        hanging = fake_backend("ref", sleep_s=30)
        runner = make_runner(hanging)
        started = time.perf_counter()
        observation = await runner.run_node(
            "ref", {"language": "python", "code": "x"}, {}, max_wall_ms=100
        )
        assert time.perf_counter() - started < 5
        assert observation.overdue == (
            "no result within 200 ms (the 100 ms allowed plus at most 100 ms of "
            "provisioning); the runner cancelled the call"
        )
        assert observation.summary().startswith("no result: no result within 200 ms")


class TestRun:
    async def test_a_met_expectation_passes(self, case: Case) -> None:
        """A backend giving the expected output passes."""
        [outcome] = await make_runner(fake_backend("ref", value=2)).run([case])
        assert outcome.status == "pass"

    async def test_a_missed_expectation_fails_with_the_problem(self, case: Case) -> None:
        """A backend giving another output fails, saying what differed."""
        [outcome] = await make_runner(fake_backend("ref", value=3)).run([case])
        assert (outcome.status, outcome.reason) == ("fail", "output: expected 2, got 3")

    async def test_an_unmet_requirement_skips_with_the_reason(self, tmp_path: Path) -> None:
        """A case needing a capability the backend lacks is skipped, not failed."""
        needing = one_case(tmp_path, EXPECTS_TWO + "requires = { network_access = false }\n")
        [outcome] = await make_runner(fake_backend("ref", value=2)).run([needing])
        assert outcome.status == "skip"
        assert "network_access" in outcome.reason

    async def test_an_unavailable_backend_is_an_error(self, case: Case) -> None:
        """A backend that cannot be constructed makes its cases errors, naming why."""
        [outcome] = await make_runner(fake_backend("ref", broken="no key")).run([case])
        assert outcome.status == "error"
        assert "no key" in outcome.reason

    async def test_a_ledgered_failure_is_an_accepted_divergence(self, case: Case) -> None:
        """A failing case listed in the ledger is xfail, which is not unexpected."""
        runner = make_runner(fake_backend("ref", value=3), ledger=ledger_for("t.two", "ref"))
        [outcome] = await runner.run([case])
        assert (outcome.status, outcome.unexpected) == ("xfail", False)

    async def test_a_ledgered_skip_carries_the_decision(self, tmp_path: Path) -> None:
        """A listed case the backend skips stays a skip (not unexpected) and carries the
        ledger's reason, which the verdict counts as an accepted divergence."""
        needing = one_case(tmp_path, EXPECTS_TWO + "requires = { network_access = false }\n")
        runner = make_runner(fake_backend("ref", value=2), ledger=ledger_for("t.two", "ref"))
        [outcome] = await runner.run([needing])
        assert (outcome.status, outcome.unexpected) == ("skip", False)
        assert outcome.accepted == "known difference, accepted for the test"

    async def test_a_ledgered_pass_fails_the_run(self, case: Case) -> None:
        """A listed case that passes is xpass: unexpected until the entry is removed."""
        runner = make_runner(fake_backend("ref", value=2), ledger=ledger_for("t.two", "ref"))
        [outcome] = await runner.run([case])
        assert (outcome.status, outcome.unexpected) == ("xpass", True)
        assert "remove the entry" in outcome.reason

    async def test_a_target_that_differs_from_the_reference_fails(self, tmp_path: Path) -> None:
        """Meeting the expectation is not enough: the target must agree with the reference."""
        loose = one_case(
            tmp_path,
            '[[cases]]\nid = "t.any"\ndescription = "any output"\n'
            'config = { language = "python", code = "x" }\n',
        )
        runner = make_runner(fake_backend("ref", value=1), fake_backend("target", value=2))
        reference, target = await runner.run([loose])
        assert (reference.status, target.status) == ("pass", "fail")
        assert target.reason == "differs from ref: output: ref 1, target 2"

    async def test_a_target_is_not_held_to_a_failing_reference(self, case: Case) -> None:
        """Where the reference misses the expectation, differing from it is no fault."""
        runner = make_runner(fake_backend("ref", value=3), fake_backend("target", value=2))
        reference, target = await runner.run([case])
        assert (reference.status, target.status) == ("fail", "pass")

    async def test_every_pair_runs_on_every_backend(self, case: Case) -> None:
        """Each backend under test runs each case once."""
        ref, target = fake_backend("ref", value=2), fake_backend("target", value=2)
        await make_runner(ref, target).run([case])
        cases_run = [
            [r for r in backend.executions if r.labels.get("suite") == "conformance"]
            for backend in (ref, target)
        ]
        assert [len(runs) for runs in cases_run] == [1, 1]

    async def test_a_case_marked_alone_starts_after_every_other_has_ended(
        self, tmp_path: Path
    ) -> None:
        """An `alone` case listed first still runs last, after the others have finished,
        so that its load is not in their time bounds."""
        listed = "".join(
            f'[[cases]]\nid = "t.{name}"\ndescription = "{name}"\n{extra}'
            f'config = {{ language = "python", code = "return \'{name}\'" }}\n'
            for name, extra in (("bomb", "alone = true\n"), ("a", ""), ("b", ""))
        )
        cases = load_case_file(write_cases(tmp_path / "cases", "theme", listed))
        backend = fake_backend("ref", sleep_s=0.05)
        await make_runner(backend).run(cases)
        runs = [r for r in backend.executions if r.labels.get("suite") == "conformance"]
        assert ["'bomb'" in decoded_code(run.program) for run in runs] == [False, False, True]

    async def test_an_alone_case_runs_on_every_backend_at_once_and_beside_nothing_else(
        self, tmp_path: Path
    ) -> None:
        """Two `alone` cases on two backends: each case's two runs overlap, and no run of
        the other case overlaps them."""
        listed = "".join(
            f'[[cases]]\nid = "t.{name}"\ndescription = "{name}"\nalone = true\n'
            f'config = {{ language = "python", code = "return \'{name}\'" }}\n'
            for name in ("first", "second")
        )
        cases = load_case_file(write_cases(tmp_path / "cases", "theme", listed))
        events: list[tuple[str, str]] = []

        def logged(backend_id: str) -> type:
            base = fake_backend(backend_id, sleep_s=0.05)

            class Logged(base):  # type: ignore[misc,valid-type]
                async def execute(self, request: ExecutionRequest) -> ExecutionResult:
                    if request.labels.get("suite") != "conformance":
                        return await super().execute(request)
                    name = decoded_code(request.program).split("'")[1]
                    events.append(("start", name))
                    try:
                        return await super().execute(request)
                    finally:
                        events.append(("end", name))

            return Logged

        await make_runner(logged("ref"), logged("target")).run(cases)
        assert (
            events
            == [("start", "first")] * 2
            + [("end", "first")] * 2
            + [("start", "second")] * 2
            + [("end", "second")] * 2
        )

    async def test_each_backend_is_warmed_up_once_before_its_first_case(self, case: Case) -> None:
        """One untimed execution per backend precedes the cases, once per runner."""
        ref, target = fake_backend("ref", value=2), fake_backend("target", value=2)
        runner = make_runner(ref, target)
        await runner.run([case])
        await runner.run([case])
        for backend in (ref, target):
            suites = [request.labels.get("suite") for request in backend.executions]
            assert suites == ["conformance-warm-up", "conformance", "conformance"]


class TestConclude:
    def test_the_ledger_applies_after_the_differential(self, case: Case) -> None:
        """A target failing only by differing from the reference can still be accepted."""
        raw = [result("t.two", "ref", "pass"), result("t.two", "target", "fail")]
        concluded = conclude([case], raw, reference="ref", ledger=ledger_for("t.two", "target"))
        assert [r.status for r in concluded] == ["pass", "xfail"]


class TestSlots:
    def test_slow_cases_get_their_own_slots_within_the_backend_limit(self) -> None:
        """With a backend limit of 8, two slow cases and concurrency 4 use 2 + 4 slots."""
        normal, slow = _slots(4, 8, 2)
        assert (normal._value, slow._value) == (4, 2)

    def test_a_small_backend_limit_is_never_exceeded(self) -> None:
        """With a backend limit of 2, normal and slow slots together stay at 2."""
        normal, slow = _slots(4, 2, 3)
        assert normal._value + slow._value == 2


class TestHostSurvivors:
    def test_a_live_process_with_the_marker_is_found(self) -> None:
        """A process whose command line holds the marker is reported."""
        marker = f"turnout-conformance-test-{uuid.uuid4().hex}"
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
        try:
            deadline = time.monotonic() + 10  # until the child has exec'd its command line
            while not host_survivors(marker) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(host_survivors(marker)) == 1
        finally:
            child.kill()
            child.wait()

    def test_nothing_is_found_for_an_unused_marker(self) -> None:
        """A marker no process carries finds nothing."""
        assert host_survivors(f"turnout-unused-{uuid.uuid4().hex}") == []

    async def test_the_scan_runs_off_the_event_loop(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The runner scans /proc in a worker thread, never on the loop's own thread."""
        import threading

        from turnout.conformance import runner as runner_module

        threads: list[int] = []

        def scan(marker: str) -> list[str]:
            threads.append(threading.get_ident())
            return []

        monkeypatch.setattr(runner_module, "host_survivors", scan)
        assert await make_runner(fake_backend("ref"))._survivors("m") == []
        assert threads
        assert threading.get_ident() not in threads
