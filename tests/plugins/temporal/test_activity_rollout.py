"""The activity runs on the `turnout.Client` it is given, and the rollout ids it resolves
(the calling workflow's id and run id by default) are the ids that client decides with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.client import Client as TemporalClient
from temporalio.worker import Worker
from turnout_e2b_server.testing import ServerProcess
from turnout_temporal.activity import CodeNodeActivity

import turnout

from .support import Workflows, node_input

ROLLOUT_QUEUE = "turnout-rollout-test"
ENVIRONMENT = "sticky"


def rollout_flags(e2b_url: str) -> dict[str, Any]:
    """Half of the workflows live on e2b, the other half on local-subprocess, bucketed by
    the first rollout id given (no tenant here: the workflow id)."""
    return {
        "schema_version": 1,
        "environments": {
            ENVIRONMENT: {
                "legacy_backend": "local-subprocess",
                "target_backend": "e2b",
                "stage": "off",
                "rollout": {"live": 50},
                "backends": {
                    "e2b": {"api_url": e2b_url, "create_attempts": 1},
                    "local-subprocess": {"prestart_python": 0},
                },
            }
        },
    }


@pytest.fixture
async def turnout_client(e2b: ServerProcess) -> AsyncIterator[turnout.Client]:
    async with turnout.Client(rollout_flags(e2b.url), ENVIRONMENT) as client:
        yield client


@pytest.fixture
async def rollout_workflows(
    client: TemporalClient, workflows: Workflows, turnout_client: turnout.Client
) -> AsyncIterator[Workflows]:
    """The activity over `turnout_client`, served in this test's event loop on a queue of
    its own; the test workflow schedules it there."""
    activity = CodeNodeActivity(turnout_client, heartbeat_interval_s=0.5)
    async with Worker(client, task_queue=ROLLOUT_QUEUE, activities=[activity.execute_code_node]):
        yield Workflows(client, task_queue=ROLLOUT_QUEUE)


def workflow_on(client: turnout.Client, backend: str) -> str:
    """A workflow id the rollout sends to `backend` (the client's own decision)."""
    for index in range(200):
        workflow_id = f"sticky-{index}"
        if client.explain(workflow_id=workflow_id).authoritative == backend:
            return workflow_id
    raise AssertionError(f"no workflow id among 200 goes to {backend}")


class TestRolloutOnTheClient:
    async def test_each_workflow_runs_where_the_client_buckets_its_id_every_time(
        self, rollout_workflows: Workflows, turnout_client: turnout.Client
    ) -> None:
        """Without ids in the input, a workflow's code nodes run on the backend the client
        decides for that workflow's id, on each of two runs (two run ids): sticky."""
        for backend in ("e2b", "local-subprocess"):
            workflow_id = workflow_on(turnout_client, backend)
            run_ids = set()
            for _ in range(2):
                handle = await rollout_workflows.start(
                    node_input("python", "return 1"), workflow_id=workflow_id
                )
                envelope = await handle.result()
                run_ids.add(handle.result_run_id)
                assert (envelope["output"], envelope["metadata"]["backend"]) == (1, backend)
            assert len(run_ids) == 2

    async def test_a_workflow_id_in_the_input_is_the_one_bucketed(
        self, rollout_workflows: Workflows, turnout_client: turnout.Client
    ) -> None:
        """A `workflowId` given in the input wins over the calling workflow's id, which the
        client would send to the other backend."""
        for backend, other in (("e2b", "local-subprocess"), ("local-subprocess", "e2b")):
            payload = node_input(
                "python", "return 1", workflowId=workflow_on(turnout_client, backend)
            )
            caller = workflow_on(turnout_client, other)
            envelope = await (await rollout_workflows.start(payload, workflow_id=caller)).result()
            assert envelope["metadata"]["backend"] == backend
