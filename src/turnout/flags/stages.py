"""The five migration stages (LaunchDarkly's model) and what each one runs.

    stage      authoritative   compared (shadow)   legacy needed
    off        legacy          -                   yes
    shadow     legacy          target              yes
    live       target          legacy              for comparison and fallback only
    rampdown   target          -                   no (kept installed as the way back)
    complete   target          -                   no (must not load)

The order of `STAGES` is the order of advancement; percentage ranges are laid out in
`RANGE_ORDER` (most advanced first) so that promoting keys never moves any key back.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["BUCKETING_KEYS", "RANGE_ORDER", "STAGES", "BucketingKey", "Stage"]

Stage = Literal["off", "shadow", "live", "rampdown", "complete"]
STAGES: tuple[Stage, ...] = ("off", "shadow", "live", "rampdown", "complete")
RANGE_ORDER: tuple[Stage, ...] = tuple(reversed(STAGES))

BucketingKey = Literal["tenant", "workflow", "execution"]
"""Which request value a rollout bucket was computed from."""
BUCKETING_KEYS: tuple[BucketingKey, ...] = ("tenant", "workflow", "execution")
