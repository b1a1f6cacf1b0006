"""`execute_code_node` called by a Python workflow through a real Temporal server: the
envelope `turnout run --json` prints, rollout ids, and each error with its retry behaviour."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from turnout_e2b_server.testing import ServerProcess

from turnout.cli import main

from .support import ENVIRONMENT, WorkerProcess, Workflows, comparable, node_input

NODES = {
    "python": "print('adding', a, 'and', b)\nreturn {'sum': a + b, 'items': [a, b]}",
    "javascript": "console.log('adding', a, 'and', b);\nreturn { sum: a + b, items: [a, b] };",
}
CONTEXT = {"a": 2, "b": 3, "unused": "not selected"}


async def turnout_run_json(
    flags: Path,
    backend: str,
    node: dict[str, Any],
    context: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """What `turnout run --json` prints for the node (one JSON document)."""
    (tmp_path / "node.json").write_text(json.dumps(node))
    (tmp_path / "context.json").write_text(json.dumps(context))
    monkeypatch.setenv("TURNOUT_FLAGS_FILE", str(flags))
    capsys.readouterr()
    status = await asyncio.to_thread(
        main,
        [
            *("run", "--config", str(tmp_path / "node.json"), "--context"),
            *(str(tmp_path / "context.json"), "--backend", backend, "--env", ENVIRONMENT),
            "--json",
        ],
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    printed: dict[str, Any] = json.loads(out)
    return printed


async def failure_of(workflows: Workflows, payload: Any, **options: Any) -> ActivityError:
    """The activity failure that failed the workflow."""
    with pytest.raises(WorkflowFailureError) as failed:
        await workflows.run(payload, **options)
    cause = failed.value.cause
    assert isinstance(cause, ActivityError), cause
    return cause


def executions(worker: WorkerProcess, workflow_id: str) -> list[dict[str, Any]]:
    """The worker's `code_node_executed` events of one workflow, one per attempt."""
    return [
        event
        for event in worker.events()
        if event.get("event") == "code_node_executed" and event.get("label_workflow") == workflow_id
    ]


def ended_at(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def started_at(event: dict[str, Any]) -> float:
    return ended_at(event) - event["duration_ms"] / 1000


def application_error(failure: ActivityError) -> ApplicationError:
    assert isinstance(failure.cause, ApplicationError), failure.cause
    return failure.cause


class TestSuccess:
    @pytest.mark.parametrize(
        ("backend", "language"), [("local-subprocess", "python"), ("e2b", "javascript")]
    )
    async def test_the_result_is_what_turnout_run_json_prints(
        self,
        workflows: Workflows,
        e2b: ServerProcess,
        flags_file: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        backend: str,
        language: str,
    ) -> None:
        """The activity's result equals `turnout run --json` for the same node (wrapped in
        its outputVariable), but for timings, ids and cost."""
        node = {
            "language": language,
            "code": NODES[language],
            "inputVariables": ["a", "b"],
            "outputVariable": "result",
        }
        payload = node_input(language, node["code"], backend=backend, context=CONTEXT)
        payload["node"] = node
        got = await workflows.run(payload)
        printed = await turnout_run_json(
            flags_file, backend, node, CONTEXT, tmp_path, capsys, monkeypatch
        )
        assert comparable(got) == comparable(printed)
        assert comparable(got)[:2] == ("result", backend)
        assert got["result"]["output"] == {"sum": 5, "items": [2, 3]}


class TestRolloutIds:
    async def test_the_workflow_id_and_run_id_are_the_default_ids(
        self, workflows: Workflows, worker: WorkerProcess
    ) -> None:
        """Without ids in the input, the execution is labelled (and bucketed) with the
        calling workflow's id and run id."""
        handle = await workflows.start(node_input("python", "return 1"))
        await handle.result()
        event = worker.wait_for(
            lambda e: (
                e.get("event") == "code_node_executed" and e.get("label_workflow") == handle.id
            )
        )
        assert event["label_execution"] == handle.result_run_id
        assert "label_tenant" not in event

    async def test_ids_given_in_the_input_decide_the_backend(
        self, workflows: Workflows, worker: WorkerProcess
    ) -> None:
        """Given ids are used as they are: the tenant override of the flags sends the
        execution to e2b."""
        payload = node_input(
            "python", "return 1", backend="e2b", workflowId="wf-7", executionId="run-7"
        )
        envelope = await workflows.run(payload)
        assert envelope["metadata"]["backend"] == "e2b"
        event = worker.wait_for(
            lambda e: e.get("event") == "code_node_executed" and e.get("label_workflow") == "wf-7"
        )
        assert (event["label_execution"], event["label_tenant"]) == ("run-7", "on-e2b")


class TestUserCodeErrors:
    @pytest.mark.parametrize(
        ("backend", "language", "code", "kind"),
        [
            ("local-subprocess", "python", "print('before')\nraise ValueError('boom')", "runtime"),
            ("e2b", "python", "print('before')\nraise ValueError('boom')", "runtime"),
            ("local-subprocess", "javascript", "return (", "syntax"),
            ("e2b", "javascript", "while (true) {}", "timeout"),
        ],
    )
    async def test_a_user_code_error_fails_once_with_its_kind(
        self,
        workflows: Workflows,
        e2b: ServerProcess,
        backend: str,
        language: str,
        code: str,
        kind: str,
    ) -> None:
        """The user's code failing: ApplicationError of type = the kind, non-retryable, the
        error JSON as details, and no retry although the policy allows three attempts."""
        payload = node_input(language, code, backend=backend, node={"timeout": 1000})
        failure = await failure_of(workflows, payload, maximumAttempts=3)
        error = application_error(failure)
        assert (error.type, error.non_retryable) == (kind, True)
        assert failure.retry_state == RetryState.NON_RETRYABLE_FAILURE
        [details] = error.details
        assert details["type"] == "CodeExecutionError"
        assert (details["kind"], details["retryable"]) == (kind, False)
        assert details["message"] == error.message
        if kind == "runtime":
            assert (details["stdout"], details["line"]) == ("before\n", 2)


class TestValidationErrors:
    async def test_a_bad_node_config_is_not_retried_and_names_the_field(
        self, workflows: Workflows
    ) -> None:
        """An unknown language: a non-retryable ValidationError naming `language`."""
        failure = await failure_of(workflows, node_input("ruby", "puts 1"), maximumAttempts=3)
        error = application_error(failure)
        assert (error.type, error.non_retryable) == ("ValidationError", True)
        assert failure.retry_state == RetryState.NON_RETRYABLE_FAILURE
        assert error.details[0]["field"] == "language"

    async def test_a_bad_activity_input_is_not_retried_and_names_the_field(
        self, workflows: Workflows
    ) -> None:
        """An input without its context: a non-retryable ValidationError naming `context`."""
        failure = await failure_of(workflows, {"node": {"language": "python", "code": "1"}})
        error = application_error(failure)
        assert (error.type, error.non_retryable) == ("ValidationError", True)
        assert error.details[0]["field"] == "context"
        assert "is required" in error.message


class TestInfrastructureErrors:
    async def test_faults_on_create_are_retried_by_temporal_until_it_succeeds(
        self, workflows: Workflows, e2b: ServerProcess, worker: WorkerProcess
    ) -> None:
        """A 503 then a 429 on sandbox create: two retryable failures, the second retried
        after the one-second delay the backend asked for, then the third attempt's envelope."""
        e2b.inject(
            {"kind": "create_error", "status": 503, "message": "busy"},
            {"kind": "create_error", "status": 429, "message": "too many sandboxes"},
        )
        handle = await workflows.start(
            node_input("python", "return 'third time'", backend="e2b"), maximumAttempts=3
        )
        envelope = await handle.result()
        assert envelope["output"] == "third time"
        history = await handle.fetch_history()
        [started] = [
            event.activity_task_started_event_attributes
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        ]
        assert started.attempt == 3
        # The third attempt began no sooner than the 429's retry delay after the second
        # ended (the policy alone would have retried after 0.2 s). The test server does not
        # record the failure's next_retry_delay in the history, so the worker's log shows it.
        second, third = executions(worker, handle.id)[1:]
        assert started_at(third) - ended_at(second) >= 0.99
        assert e2b.stats()["counters"]["create_requests"] == 3

    async def test_a_fault_on_every_attempt_fails_after_the_policy_attempts(
        self, workflows: Workflows, e2b: ServerProcess
    ) -> None:
        """503 on every create: retried up to the policy's two attempts, then the workflow
        gets the retryable InfrastructureError with its JSON."""
        e2b.inject({"kind": "create_error", "status": 503, "message": "busy", "count": 5})
        failure = await failure_of(
            workflows, node_input("python", "return 1", backend="e2b"), maximumAttempts=2
        )
        error = application_error(failure)
        assert (error.type, error.non_retryable) == ("InfrastructureError", False)
        assert failure.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
        assert error.details[0]["kind"] == "infrastructure"
        assert error.details[0]["backend"] == "e2b"
        assert e2b.stats()["counters"]["create_requests"] == 2
