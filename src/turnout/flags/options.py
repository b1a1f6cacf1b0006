"""Backend options tables (`[environments.<env>.backends.<id>]`), checked when flags load.

A backend class that declares `options_model` (see `turnout.backend.BackendType`) has every
environment's table checked against it here, so `turnout flags validate`, `show`,
`explain`, engine start-up and hot reload all refuse `pool_sise = 4` the same way, with
the file's line, before any execution could fail on it. A backend without a model gets its
table unchecked (its constructor is the only judge), and `unchecked_backends` names it so
that `turnout flags validate` can say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from turnout.field_errors import FieldProblem, field_problems

__all__ = ["OptionModels", "backend_option_problems", "unchecked_backends"]

OptionModels = Mapping[str, type[pydantic.BaseModel]]
"""Options model by backend id (`BackendRegistry.option_models`)."""


def backend_option_problems(raw: Any, option_models: OptionModels) -> list[FieldProblem]:
    """Every problem in the options tables of the (raw, parsed-from-TOML) flag document,
    each located at `environments.<env>.backends.<id>.<key>`. Parts of the document that
    are not tables are left to the schema, which reports them."""
    found: list[FieldProblem] = []
    for name, environment in _tables(_get(raw, "environments")):
        for backend_id, options in _tables(_get(environment, "backends")):
            model = option_models.get(backend_id)
            if model is None:
                continue
            try:
                model.model_validate(options)
            except pydantic.ValidationError as exc:
                prefix = ("environments", name, "backends", backend_id)
                found += field_problems(exc, schema=model, prefix=prefix)
    return found


def unchecked_backends(backends: Mapping[str, Any], option_models: OptionModels) -> list[str]:
    """The ids in an environment's `backends` whose options no model checks."""
    return [backend_id for backend_id in backends if backend_id not in option_models]


def _get(table: Any, key: str) -> Any:
    return table.get(key) if isinstance(table, Mapping) else None


def _tables(value: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if not isinstance(value, Mapping):
        return []
    return [(str(key), table) for key, table in value.items() if isinstance(table, Mapping)]
