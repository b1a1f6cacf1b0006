"""The one place the worker calls turnout: a node, a context and rollout ids in, an envelope out.

Everything else in this package is Temporal plumbing; keeping the call here means a change
of turnout's public API (a typed client taking the ids as parameters) changes one function.
What it does is what `turnout.execute_code_node` does, on the worker's own engine rather
than the per-loop default: validate the stored config, select the inputs from the context,
run through the engine (flags, shadow, fallback), and wrap the envelope as
`{outputVariable: envelope}` when the node names one. The result is therefore exactly what
`turnout run --json` prints for the same node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from turnout import Engine, parse_config
from turnout.contract import select_inputs
from turnout_temporal.inputs import RolloutIds

__all__ = ["run_code_node"]


async def run_code_node(
    engine: Engine, node: Mapping[str, Any], context: Mapping[str, Any], ids: RolloutIds
) -> dict[str, Any]:
    """Run one code node on `engine`; the envelope, or one classified `TurnoutError`."""
    config = parse_config(dict(node))
    inputs = select_inputs(context, config.input_variables)
    labels = {
        key: value
        for key, value in (
            ("tenant", ids.tenant_id),
            ("workflow", ids.workflow_id),
            ("execution", ids.execution_id),
        )
        if value is not None
    }
    envelope = await engine.run(config, inputs, labels=labels)
    if config.output_variable:
        return {config.output_variable: envelope}
    return envelope
