"""What an E2B sandbox costs: sandbox-seconds priced at the configured rates.

E2B bills per second while a sandbox runs, by what the sandbox has allocated (not what it
uses): `(vCPUs x price per vCPU-hour + GiB of RAM x price per GiB-hour) x hours`. The rates
and the sandbox size are options of the backend (`price_per_vcpu_hour`, `price_per_gib_hour`,
`vcpus`, `memory_gib`); the defaults are E2B's published rates and its default sandbox (2
vCPU, 512 MiB), about $0.109 per sandbox-hour. Fractions of a second are not rounded.

What an execution is charged (`metadata` of its envelope, see `usage`):

- `sandboxSeconds`: from the start of the create call that produced its sandbox (or from
  the moment it took a pooled one) until its result was read. The kill that follows runs
  in the background, after the envelope is returned; the exact figure, create (or take) to
  kill completed, is logged in the `sandbox_released` event.
- `poolIdleSeconds`: for a pooled sandbox, from the start of its create call until it was
  taken: the time the pool held it for this execution (0 without a pool).
- `costUsd`: both, priced. Pooled sandboxes that are never taken (replaced past their
  maximum age, drained at close) are charged to nobody: they are logged as
  `sandbox_released` with `reason` `expired` or `drained`.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout_e2b.options import E2BOptions

__all__ = ["USAGE_KEYS", "Pricing", "usage"]

USAGE_KEYS = ("sandboxSeconds", "poolIdleSeconds", "costUsd")
"""The keys `usage` returns: what the engine copies into the envelope's metadata."""


@dataclass(frozen=True)
class Pricing:
    """Dollars per sandbox-second for one sandbox size."""

    price_per_vcpu_hour: float
    price_per_gib_hour: float
    vcpus: float
    memory_gib: float

    @classmethod
    def from_options(cls, options: E2BOptions) -> Pricing:
        return cls(
            options.price_per_vcpu_hour,
            options.price_per_gib_hour,
            options.vcpus,
            options.memory_gib,
        )

    @property
    def per_hour(self) -> float:
        """What one sandbox costs per hour of lifetime."""
        return self.vcpus * self.price_per_vcpu_hour + self.memory_gib * self.price_per_gib_hour

    def cost(self, seconds: float) -> float:
        """Dollars for `seconds` of one sandbox's lifetime."""
        return seconds * self.per_hour / 3600.0


def usage(pricing: Pricing, sandbox_seconds: float, pool_idle_seconds: float) -> dict[str, float]:
    """The `ExecutionResult.usage` of one execution (see the module docstring)."""
    return {
        "sandboxSeconds": round(sandbox_seconds, 3),
        "poolIdleSeconds": round(pool_idle_seconds, 3),
        "costUsd": round(pricing.cost(sandbox_seconds + pool_idle_seconds), 9),
    }
