"""What a backend must declare to run a case: conditions on its declared capabilities.

A case's `requires` maps a capability (`network_access`, `memory_limit_mb`, ...) to the
value it must have, or to a `Condition` for what a plain equality cannot say (at least,
one of, declared at all). Before a case runs, `unmet_requirement` says why a backend cannot
run it; the suite then skips it with that reason, and the ledger decides whether the skip
is accepted (docs/conformance.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from turnout.models import Capabilities

__all__ = ["Condition", "Requirement", "unmet_requirement"]


class Condition(BaseModel):
    """A condition on one declared capability, for values a plain equality cannot say."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    declared: bool | None = Field(default=None, description="true: the value is not null")
    at_least: int | None = None
    at_most: int | None = None
    includes: str | None = Field(default=None, description="the set contains this item")
    one_of: list[str | int | bool] | None = None

    def describe(self) -> str:
        parts = []
        if self.declared is not None:
            parts.append("declared" if self.declared else "not declared")
        if self.at_least is not None:
            parts.append(f">= {self.at_least}")
        if self.at_most is not None:
            parts.append(f"<= {self.at_most}")
        if self.includes is not None:
            parts.append(f"includes {self.includes!r}")
        if self.one_of is not None:
            parts.append(f"one of {self.one_of}")
        return " and ".join(parts)

    def holds(self, value: Any) -> bool:
        if self.declared is not None and (value is not None) != self.declared:
            return False
        if self.at_least is not None and (value is None or value < self.at_least):
            return False
        if self.at_most is not None and (value is None or value > self.at_most):
            return False
        if self.includes is not None and self.includes not in (value or ()):
            return False
        return self.one_of is None or value in self.one_of


Requirement = bool | int | str | Condition


def unmet_requirement(
    requires: Mapping[str, Requirement], capabilities: Capabilities
) -> str | None:
    """Why a backend with `capabilities` cannot run a case, or None when it can."""
    for name, wanted in sorted(requires.items()):
        declared = getattr(capabilities, name)
        if isinstance(wanted, Condition):
            if not wanted.holds(declared):
                return f"needs {name} {wanted.describe()}; the backend declares {declared!r}"
        elif declared != wanted or type(declared) is not type(wanted):
            return f"needs {name} = {wanted!r}; the backend declares {declared!r}"
    return None
