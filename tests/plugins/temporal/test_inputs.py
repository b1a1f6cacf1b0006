"""The activity input: checked once, every problem a ValidationError naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from turnout_temporal.inputs import RolloutIds, parse_input

from turnout.errors import ValidationError

NODE = {"language": "python", "code": "return 1"}


def problem(raw: Any) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        parse_input(raw)
    assert raised.value.retryable is False
    return raised.value


class TestParseInput:
    def test_every_field_is_read_by_its_camel_case_name(self) -> None:
        """node, context and the three ids arrive as the caller spelled them."""
        parsed = parse_input(
            {
                "node": NODE,
                "context": {"a": 1},
                "tenantId": "t",
                "workflowId": "w",
                "executionId": "e",
            }
        )
        assert (parsed.node, parsed.context) == (NODE, {"a": 1})
        assert (parsed.tenant_id, parsed.workflow_id, parsed.execution_id) == ("t", "w", "e")

    def test_a_missing_context_is_named(self) -> None:
        """Without `context`: the error names it and says what it should be."""
        error = problem({"node": NODE})
        assert error.field == "context"
        assert "is required" in error.message
        assert "JSON object" in (error.allowed or "")

    def test_an_unknown_field_is_named_with_the_known_ones(self) -> None:
        """A snake_case id is not silently ignored: the error lists the known fields."""
        error = problem({"node": NODE, "context": {}, "tenant_id": "t"})
        assert error.field == "tenant_id"
        assert "tenantId" in error.message

    def test_an_input_that_is_not_an_object_is_refused(self) -> None:
        """A JSON array as the input: field `input`, and the shape that was expected."""
        error = problem([NODE, {}])
        assert error.field == "input"
        assert "an array" in error.message

    @pytest.mark.parametrize("field", ["tenantId", "workflowId", "executionId"])
    def test_an_empty_id_is_refused(self, field: str) -> None:
        """An empty id would bucket every caller alike: refused, naming the field."""
        assert problem({"node": NODE, "context": {}, field: ""}).field == field

    def test_every_problem_is_in_the_one_error(self) -> None:
        """Two bad fields: the first is the error's field, the second is in its message."""
        error = problem({"node": "code", "context": []})
        assert error.field == "node"
        assert "context" in error.message


class TestRolloutIds:
    def test_the_calling_workflow_gives_the_default_ids(self) -> None:
        """No ids given: the workflow's id and run id; no tenant."""
        ids = RolloutIds.resolve(
            parse_input({"node": NODE, "context": {}}), workflow_id="wf", workflow_run_id="run"
        )
        assert ids == RolloutIds(tenant_id=None, workflow_id="wf", execution_id="run")

    def test_given_ids_win_over_the_workflow_s(self) -> None:
        """Ids in the input are used as they are."""
        given = parse_input(
            {"node": NODE, "context": {}, "tenantId": "t", "workflowId": "w", "executionId": "e"}
        )
        ids = RolloutIds.resolve(given, workflow_id="wf", workflow_run_id="run")
        assert ids == RolloutIds(tenant_id="t", workflow_id="w", execution_id="e")
