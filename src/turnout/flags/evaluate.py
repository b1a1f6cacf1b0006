"""The per-execution decision: which backend answers, which one is compared, and why.

`FlagEvaluator.decide` is on every execution's path and never raises: a failure inside it
(there should be none) yields a safe decision, the environment's default stage without
comparison or fallback, whose `reason` names the failure. The order of evaluation:

1. the stage: workflow override, else tenant override, else the rollout bucket of the first
   bucketing key the request has (`bucket_by`), else the environment's `stage`; the keys
   are the ids the caller gave (tenant, workflow, execution), never one turnout made up,
   so the same ids always get the same stage and an execution without ids gets `stage`;
2. the kill switch: with `legacy_allowed = false`, stages that would run legacy run the
   target only, and nothing is compared or falls back;
3. shadow: the candidate runs only when the node is side-effect-free (or its workflow is on
   `shadow_workflows`) and the execution is sampled (`shadow_sample_percent`, by the
   caller's execution id, else the `sample_key` turnout gives each execution, else the
   first bucketing key);
4. fallback: only in `live`, only with `fallback_to_legacy` and legacy not killed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from turnout.flags.bucketing import bucket, stage_for_bucket
from turnout.flags.ignore import IgnoreRule
from turnout.flags.schema import (
    DEFAULT_LEGACY_BACKEND,
    AcceptedDivergence,
    EnvironmentFlags,
    FlagFile,
)
from turnout.flags.stages import BucketingKey, Stage
from turnout.logging import get_logger

if TYPE_CHECKING:
    from turnout.flags.reload import FlagReloader

__all__ = ["SHADOW_SAMPLE_SUFFIX", "Decision", "FlagEvaluator", "decide"]

SHADOW_SAMPLE_SUFFIX = ".shadow-sample"
"""Appended to the rollout group to sample shadow runs independently of rollout buckets."""

log = get_logger("turnout.flags")

DecidedBy = Literal["workflow_override", "tenant_override", "rollout", "stage", "safe_default"]
"""What chose the stage: an override, a rollout bucket, the environment's `stage` (no key,
or one stage holds every bucket), or the safe default after a failure."""
ShadowSkipped = Literal["not_marked", "not_sampled"]
"""Why an execution that could have been compared was not: the node is not marked
side-effect-free (nor its workflow listed), or sampling left it out."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What one execution does. `stage` is the stage the flags chose for it (before the kill
    switch); `authoritative`, `candidate`, `shadow` and `fallback_allowed` are what to do.
    """

    environment: str
    stage: Stage
    authoritative: str
    candidate: str | None
    shadow: bool
    fallback_allowed: bool
    reason: str
    bucket: int | None = None
    bucketing_key: BucketingKey | None = None
    legacy_killed: bool = False
    ignore_rules: tuple[IgnoreRule, ...] = field(default=(), repr=False)
    node_ignore_rules: Mapping[str, tuple[IgnoreRule, ...]] = field(
        default_factory=dict, repr=False
    )
    accepted_divergences: tuple[AcceptedDivergence, ...] = field(default=(), repr=False)
    decided_by: DecidedBy = "stage"
    share: int | None = None
    flags_hash: str | None = None
    shadow_skipped: ShadowSkipped | None = None

    def rules_for(
        self, *nodes: object
    ) -> tuple[tuple[IgnoreRule, ...], tuple[AcceptedDivergence, ...]]:
        """The ignore rules and accepted divergences that apply to a node known by any of
        `nodes` (its code hash, its `node` label): the environment's and its own."""
        keys = {node for node in nodes if isinstance(node, str)}
        rules = list(self.ignore_rules)
        for key in sorted(keys):
            rules += self.node_ignore_rules.get(key, ())
        accepted = tuple(entry for entry in self.accepted_divergences if entry.node in keys)
        return tuple(rules), accepted

    def to_log(self) -> dict[str, Any]:
        """Fields to add to the execution's log event. `environment` is left out
        because that event already has it; the bucketing key's value is never logged.
        """
        return {
            "stage": self.stage,
            "authoritative_backend": self.authoritative,
            "candidate_backend": self.candidate,
            "shadow": self.shadow,
            "fallback_allowed": self.fallback_allowed,
            "decision_reason": self.reason,
            "bucket": self.bucket,
            "bucketing_key": self.bucketing_key,
            "legacy_killed": self.legacy_killed,
            "decided_by": self.decided_by,
            "stage_share": self.share,
            "flags_hash": self.flags_hash,
            "shadow_skipped": self.shadow_skipped,
        }


def decide(
    flags: EnvironmentFlags,
    *,
    tenant_id: str | None = None,
    workflow_id: str | None = None,
    execution_key: str | None = None,
    side_effect_free: bool = False,
    sample_key: str | None = None,
) -> Decision:
    """The decision for one execution in the environment `flags` describe (may raise on
    malformed input; the hot path calls it through `FlagEvaluator.decide`, which cannot).

    `execution_key` is the caller's execution id, a rollout key like the tenant and the
    workflow; `sample_key` (turnout's own id of this execution) only samples shadow runs
    when the caller gave no execution id.
    """
    keys: dict[BucketingKey, str | None] = {
        "tenant": _text(tenant_id),
        "workflow": _text(workflow_id),
        "execution": _text(execution_key),
    }
    stage, reason, bucket_value, used, decided_by = _stage(flags, keys)
    killed = not flags.legacy_allowed
    reasons = [reason]
    if stage in ("off", "shadow", "live") and killed:
        reasons.append(f"legacy killed (legacy_allowed = false): {flags.target_backend} only")
    legacy_answers = stage in ("off", "shadow") and not killed
    authoritative = flags.legacy_backend if legacy_answers else flags.target_backend
    candidate: str | None = None
    if stage == "shadow" and not killed:
        candidate = flags.target_backend
    elif stage == "live" and not killed:
        candidate = flags.legacy_backend
    skipped: ShadowSkipped | None = None
    if candidate is not None:
        skipped = _shadow(flags, keys, side_effect_free, reasons, _text(sample_key))
    shadow = candidate is not None and skipped is None
    return Decision(
        environment=flags.name,
        stage=stage,
        authoritative=authoritative,
        candidate=candidate,
        shadow=shadow,
        fallback_allowed=stage == "live" and flags.fallback_to_legacy and not killed,
        reason="; ".join(reasons),
        bucket=bucket_value,
        bucketing_key=used,
        legacy_killed=killed,
        ignore_rules=flags.ignore_rules,
        node_ignore_rules=flags.node_ignore_rules,
        accepted_divergences=tuple(flags.accepted_divergences),
        decided_by=decided_by,
        share=None if decided_by.endswith("override") else flags.share_of(stage),
        flags_hash=flags.config_hash,
        shadow_skipped=skipped,
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


_StageChoice = tuple[Stage, str, int | None, BucketingKey | None, DecidedBy]


def _stage(flags: EnvironmentFlags, keys: dict[BucketingKey, str | None]) -> _StageChoice:
    workflow, tenant = keys["workflow"], keys["tenant"]
    if workflow is not None and workflow in flags.overrides.workflows:
        forced = flags.overrides.workflows[workflow]
        return forced, f"workflow override: {forced}", None, None, "workflow_override"
    if tenant is not None and tenant in flags.overrides.tenants:
        forced = flags.overrides.tenants[tenant]
        return forced, f"tenant override: {forced}", None, None, "tenant_override"
    ranges = flags.stage_ranges
    if len(ranges) == 1:  # one stage has every bucket: no key needed
        only = ranges[0][0]
        if only == flags.stage:
            return only, f"stage {only} (no rollout split)", None, None, "stage"
        return only, f"rollout: {only} 100%", None, None, "rollout"
    kind = next((kind for kind in flags.bucket_by if keys[kind] is not None), None)
    if kind is None:
        tried = ", ".join(flags.bucket_by)
        why = f"no bucketing key ({tried}): default stage {flags.stage}"
        return flags.stage, why, None, None, "stage"
    value = bucket(keys[kind] or "", flags.rollout_group_id)
    found = stage_for_bucket(value, ranges)
    if found is None:  # cannot happen: the ranges cover 1..100
        why = f"{kind} bucket {value} uncovered: default stage"
        return flags.stage, why, value, kind, "stage"
    stage, low, high = found
    share = high - low + 1
    why = f"rollout: {kind} bucket {value} in {stage} {low}-{high} ({share}%)"
    return stage, why, value, kind, "rollout"


def _shadow(
    flags: EnvironmentFlags,
    keys: dict[BucketingKey, str | None],
    side_effect_free: bool,
    reasons: list[str],
    sample_key: str | None = None,
) -> ShadowSkipped | None:
    """Whether the candidate runs: None when it does, else why it does not."""
    if side_effect_free:
        why = "side-effect-free node"
    elif flags.shadows_workflow(keys["workflow"]):
        why = "workflow in shadow_workflows"
    else:
        reasons.append("no shadow: node not side-effect-free, workflow not in shadow_workflows")
        return "not_marked"
    percent = flags.shadow_sample_percent
    if percent >= 100:
        reasons.append(f"shadow: {why}, sampled 100%")
        return None
    if percent <= 0:
        reasons.append("no shadow: shadow_sample_percent = 0")
        return "not_sampled"
    key = (
        keys["execution"]
        or sample_key
        or next((keys[kind] for kind in flags.bucket_by if keys[kind] is not None), None)
    )
    if key is None:
        reasons.append("no shadow: no key to sample by")
        return "not_sampled"
    sample = bucket(key, flags.rollout_group_id + SHADOW_SAMPLE_SUFFIX)
    if sample > percent:
        reasons.append(f"no shadow: sample bucket {sample} > {percent}%")
        return "not_sampled"
    reasons.append(f"shadow: {why}, sample bucket {sample} <= {percent}%")
    return None


class FlagEvaluator:
    """Decisions against the current flags: a fixed `FlagFile`, or a `FlagReloader`'s."""

    def __init__(self, source: FlagFile | FlagReloader) -> None:
        self._source = source

    @property
    def flags(self) -> FlagFile:
        """The configuration decisions are made against right now."""
        source = self._source
        return source if isinstance(source, FlagFile) else source.current()

    def decide(
        self,
        environment: str,
        *,
        tenant_id: str | None = None,
        workflow_id: str | None = None,
        execution_key: str | None = None,
        side_effect_free: bool = False,
        sample_key: str | None = None,
    ) -> Decision:
        """The decision for one execution; never raises (see the module docstring)."""
        flags: EnvironmentFlags | None = None
        try:
            flags = self.flags.environments.get(environment)
            if flags is None:
                return _safe(environment, None, f"no environment {environment!r} in the flags")
            return decide(
                flags,
                tenant_id=tenant_id,
                workflow_id=workflow_id,
                execution_key=execution_key,
                side_effect_free=bool(side_effect_free),
                sample_key=sample_key,
            )
        except Exception as exc:  # the hot path must not raise; say why in the decision
            problem = f"flag evaluation failed: {_describe(exc)}"
            with contextlib.suppress(Exception):  # logging must not undo the safe decision
                log.error("flags_decision_failed", environment=environment, error=problem)
            return _safe(environment, flags, problem)


def _safe(environment: str, flags: EnvironmentFlags | None, problem: str) -> Decision:
    """The environment's default stage without comparison or fallback; legacy if unknown."""
    if flags is None:
        return Decision(
            environment,
            "off",
            DEFAULT_LEGACY_BACKEND,
            None,
            False,
            False,
            problem,
            decided_by="safe_default",
        )
    return Decision(
        environment=environment,
        stage=flags.stage,
        authoritative=flags.backend,
        candidate=None,
        shadow=False,
        fallback_allowed=False,
        reason=f"{problem}; safe default: stage {flags.stage} without shadow or fallback",
        legacy_killed=not flags.legacy_allowed,
        decided_by="safe_default",
        flags_hash=flags.config_hash,
    )


def _describe(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:
        return type(exc).__name__
