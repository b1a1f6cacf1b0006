"""The shape of feature_flags.toml, schema version 1, and the rules that span keys.

Every key is documented in docs/flags.md. Validation is strict (no unknown keys, no type
coercion) and collects every problem: the loader turns pydantic's report into one
`ConfigurationError` naming the file, the line and the key path of each. Backend ids are
checked against the ids the caller knows (`context={"known_backends": ...}`); without that
context they are only required to be non-empty. An id that is not known but that a broken
plugin registers or may register is worded by `context["unavailable_reason"](id)`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError
from turnout.flags.bucketing import StageRange, stage_ranges
from turnout.flags.ignore import IgnoreRule, parse_ignore_rule
from turnout.flags.stages import BUCKETING_KEYS, STAGES, BucketingKey, Stage

__all__ = [
    "DEFAULT_LEGACY_BACKEND",
    "DEFAULT_TARGET_BACKEND",
    "ENVIRONMENT_VARIABLE",
    "AcceptedDivergence",
    "EnvironmentFlags",
    "FlagFile",
    "Overrides",
    "Rollout",
]

ENVIRONMENT_VARIABLE = "TURNOUT_ENV"
DEFAULT_LEGACY_BACKEND = "local-subprocess"
DEFAULT_TARGET_BACKEND = "e2b"
CONFIG_HASH_LENGTH = 12
_LEGACY_STAGES: frozenset[Stage] = frozenset({"off", "shadow", "live"})
_TARGET_STAGES: frozenset[Stage] = frozenset({"shadow", "live", "rampdown", "complete"})


def _known_backend(value: str, info: ValidationInfo) -> str:
    context = info.context or {}
    known: Collection[str] | None = context.get("known_backends")
    if known is not None and value not in known:
        why: Callable[[str], str | None] | None = context.get("unavailable_reason")
        reason = why(value) if why is not None else None
        if reason:  # a broken plugin registered it, or may have: say which
            raise PydanticCustomError(
                "unavailable_backend",
                "backend '{backend}' cannot be used here: {reason}",
                {"backend": value, "reason": reason},
            )
        raise PydanticCustomError(
            "unknown_backend",
            "unknown backend id '{backend}' (known: {known})",
            {"backend": value, "known": ", ".join(sorted(known)) or "none"},
        )
    return value


def _ignore_rule(pattern: str) -> str:
    try:
        parse_ignore_rule(pattern)
    except ValueError as exc:
        raise PydanticCustomError("ignore_rule", str(exc)) from None
    return pattern


Percent = Annotated[int, Field(ge=0, le=100)]
Name = Annotated[str, Field(min_length=1)]
BackendId = Annotated[str, Field(min_length=1), AfterValidator(_known_backend)]
IgnorePattern = Annotated[str, AfterValidator(_ignore_rule)]
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


def _no_items() -> list[Any]:
    """An empty list, as a field's default factory. Not `list` itself: pydantic reads a
    factory's signature, and a builtin's is parsed with `tokenize`, whose pattern then costs
    every process about 5 ms of CPU to compile."""
    return []


class Rollout(BaseModel):
    """Percent of bucketing keys per stage; what is left goes to the environment's `stage`."""

    model_config = _STRICT

    off: Percent = 0
    shadow: Percent = 0
    live: Percent = 0
    rampdown: Percent = 0
    complete: Percent = 0

    @property
    def shares(self) -> dict[Stage, int]:
        """The stages the file names, with their percentages."""
        return {stage: getattr(self, stage) for stage in STAGES if stage in self.model_fields_set}

    @model_validator(mode="after")
    def _at_most_100(self) -> Rollout:
        total = sum(self.shares.values())
        if total > 100:
            raise PydanticCustomError(
                "rollout_sum",
                "stage percentages sum to {total}, more than 100",
                {"total": total},
            )
        return self


class Overrides(BaseModel):
    """Stages forced for named tenants and workflows (a workflow's beats its tenant's)."""

    model_config = _STRICT

    tenants: dict[Name, Stage] = Field(default_factory=dict)
    workflows: dict[Name, Stage] = Field(default_factory=dict)


class AcceptedDivergence(BaseModel):
    """A production difference a person decided to accept, for one node: shadow
    comparisons count it apart from mismatches (`accepted`) and the report lists it with
    its reason and owner."""

    model_config = _STRICT

    node: Name = Field(description="the node's code hash (code_sha256) or its `node` label")
    path: IgnorePattern
    reason: str = Field(min_length=10, description="why the difference is accepted")
    owner: Name = Field(description="who decided, and answers for it")

    @property
    def rule(self) -> IgnoreRule:
        return parse_ignore_rule(self.path)


class EnvironmentFlags(BaseModel):
    """One environment's migration settings (`[environments.<env>]`)."""

    model_config = _STRICT

    legacy_backend: BackendId = DEFAULT_LEGACY_BACKEND
    target_backend: BackendId = DEFAULT_TARGET_BACKEND
    stage: Stage
    rollout: Rollout = Field(default_factory=Rollout)
    rollout_group: Name | None = None
    bucket_by: list[BucketingKey] = Field(
        default_factory=lambda: list(BUCKETING_KEYS), min_length=1
    )
    overrides: Overrides = Field(default_factory=Overrides)
    legacy_allowed: bool = True
    fallback_to_legacy: bool = True
    shadow_sample_percent: Percent = 100
    shadow_workflows: list[Name] = Field(default_factory=_no_items)
    shadow_ignore: list[IgnorePattern] = Field(default_factory=_no_items)
    shadow_ignore_nodes: dict[Name, list[IgnorePattern]] = Field(default_factory=dict)
    accepted_divergences: list[AcceptedDivergence] = Field(default_factory=_no_items)
    backends: dict[BackendId, dict[str, Any]] = Field(default_factory=dict)

    _name: str = PrivateAttr(default="default")
    _ranges: tuple[StageRange, ...] = PrivateAttr(default=())
    _shadow_workflows: frozenset[str] = PrivateAttr(default=frozenset())
    _ignore_rules: tuple[IgnoreRule, ...] = PrivateAttr(default=())
    _node_rules: dict[str, tuple[IgnoreRule, ...]] = PrivateAttr(default_factory=dict)
    _config_hash: str = PrivateAttr(default="")

    def model_post_init(self, context: Any, /) -> None:
        """Precompute what every decision reads, so `decide` does no parsing."""
        shares = dict(self.rollout.shares)
        shares[self.stage] = shares.get(self.stage, 0) + max(0, 100 - sum(shares.values()))
        self._ranges = stage_ranges(shares)
        self._shadow_workflows = frozenset(self.shadow_workflows)
        self._ignore_rules = tuple(parse_ignore_rule(rule) for rule in self.shadow_ignore)
        self._node_rules = {
            node: tuple(parse_ignore_rule(rule) for rule in rules)
            for node, rules in self.shadow_ignore_nodes.items()
        }
        settings = json.dumps(self.model_dump(mode="json"), sort_keys=True, default=str)
        self._config_hash = hashlib.sha256(settings.encode()).hexdigest()[:CONFIG_HASH_LENGTH]

    @field_validator("target_backend")
    @classmethod
    def _differs_from_legacy(cls, target: str, info: ValidationInfo) -> str:
        if target == info.data.get("legacy_backend", DEFAULT_LEGACY_BACKEND):
            raise PydanticCustomError(
                "same_backend", "must differ from legacy_backend ('{target}')", {"target": target}
            )
        return target

    @field_validator("rollout")
    @classmethod
    def _complete_when_naming_default(cls, rollout: Rollout, info: ValidationInfo) -> Rollout:
        stage = info.data.get("stage")
        total = sum(rollout.shares.values())
        if stage in rollout.model_fields_set and total != 100:
            raise PydanticCustomError(
                "rollout_sum",
                "stage percentages sum to {total}; a rollout that names the default stage "
                "'{stage}' must sum to 100 (or leave '{stage}' out: it gets the remainder)",
                {"total": total, "stage": stage},
            )
        return rollout

    @field_validator("bucket_by")
    @classmethod
    def _no_repeats(cls, keys: list[BucketingKey]) -> list[BucketingKey]:
        if len(set(keys)) != len(keys):
            raise PydanticCustomError("repeated", "lists a bucketing key twice")
        return keys

    @model_validator(mode="after")
    def _defaults_known(self, info: ValidationInfo) -> EnvironmentFlags:
        """Default backend ids are checked only where a reachable stage would use them."""
        stages = self.reachable_stages
        needs = {
            "legacy_backend": bool(stages & _LEGACY_STAGES) and self.legacy_allowed,
            "target_backend": bool(stages & _TARGET_STAGES) or not self.legacy_allowed,
        }
        for key, needed in needs.items():
            if needed and key not in self.model_fields_set:
                _known_backend(getattr(self, key), info)
        if self.legacy_backend == self.target_backend:  # one of them is a default
            raise PydanticCustomError(
                "same_backend",
                "legacy_backend and target_backend are both '{backend}'; set the other one",
                {"backend": self.target_backend},
            )
        return self

    @property
    def name(self) -> str:
        """The environment's name in the file (set by `FlagFile`)."""
        return self._name

    @property
    def rollout_group_id(self) -> str:
        """The hash group of rollout buckets: `rollout_group`, else `turnout.<env>`."""
        return self.rollout_group or f"turnout.{self._name}"

    @property
    def config_hash(self) -> str:
        """A short hash of every setting of this environment, defaults filled in: each event
        carries it, so that a report tells the steps of a migration apart (any edit to the
        environment, a rollout share, an override or the kill switch, changes it)."""
        return self._config_hash

    def share_of(self, stage: Stage) -> int:
        """The percentage of rollout buckets at `stage` (0 when it holds none)."""
        return sum(high - low + 1 for name, low, high in self._ranges if name == stage)

    @property
    def stage_ranges(self) -> tuple[StageRange, ...]:
        """Bucket ranges per stage, most advanced first, the remainder in `stage`'s."""
        return self._ranges

    @property
    def reachable_stages(self) -> frozenset[Stage]:
        """Every stage some execution can get: default, rollout shares and overrides."""
        shares = {stage for stage, share in self.rollout.shares.items() if share > 0}
        forced = {*self.overrides.tenants.values(), *self.overrides.workflows.values()}
        return frozenset({self.stage, *shares, *forced})

    @property
    def legacy_may_load(self) -> bool:
        """Whether the legacy backend may be constructed: not killed, and not every execution
        is `complete`. In `rampdown` no decision uses legacy, but it stays loadable: it is
        the way back (and explicit `--backend local-subprocess` runs still work)."""
        return self.legacy_allowed and self.reachable_stages != {"complete"}

    @property
    def legacy_refusal(self) -> str | None:
        """Why the legacy backend may not load here, naming the setting that decides it
        (None when it may): what a refused legacy call tells the operator."""
        if not self.legacy_allowed:
            return "legacy_allowed = false (the kill switch)"
        if self.reachable_stages == {"complete"}:
            return (
                'stage = "complete" with no rollout share or override sending any '
                "execution to another stage"
            )
        return None

    def override_warnings(self) -> list[str]:
        """Overrides that keep some executions elsewhere while every other one is at a
        single stage: a completion or a rollback that is not what it looks like."""
        ranges = self.stage_ranges
        if len(ranges) != 1:
            return []
        everyone = ranges[0][0]
        forced = [
            (kind, name, stage)
            for kind, table in (
                ("tenant", self.overrides.tenants),
                ("workflow", self.overrides.workflows),
            )
            for name, stage in table.items()
            if stage != everyone
        ]
        answers = self.answering_backend(everyone)
        elsewhere = [
            f"{kind} {name!r} at {stage} (answered by {self.answering_backend(stage)})"
            for kind, name, stage in forced
            if everyone == "complete" or self.answering_backend(stage) != answers
        ]
        if not elsewhere:
            return []
        consequence = ""
        if everyone == "complete":
            consequence = "; legacy stays loadable while they remain"
        return [
            f"every execution is at stage {everyone} ({answers}) except overrides: "
            f"{', '.join(elsewhere)}{consequence}; delete those overrides if this step is "
            "meant for everyone"
        ]

    def stages_using(self) -> dict[str, list[Stage]]:
        """For each backend that some reachable stage runs, as the answer or as the
        comparison (shadow candidate, fallback), those stages in migration order. The same
        rules as `turnout.flags.evaluate.decide`, kill switch included."""
        killed = not self.legacy_allowed
        using: dict[str, list[Stage]] = {}
        for stage in STAGES:
            if stage not in self.reachable_stages:
                continue
            runs = [self.target_backend]
            if stage in _LEGACY_STAGES and not killed:
                runs = [self.legacy_backend] + (runs if stage != "off" else [])
            for backend_id in runs:
                using.setdefault(backend_id, []).append(stage)
        return using

    def answering_backend(self, stage: Stage) -> str:
        """The backend whose result callers get at `stage` (the kill switch included)."""
        if stage in ("off", "shadow") and self.legacy_allowed:
            return self.legacy_backend
        return self.target_backend

    @property
    def backend(self) -> str:
        """The authoritative backend of the default stage (kept for callers of schema v0)."""
        return self.answering_backend(self.stage)

    @property
    def node_ignore_rules(self) -> dict[str, tuple[IgnoreRule, ...]]:
        """`shadow_ignore_nodes`, parsed: rules by code hash or node id."""
        return self._node_rules

    @property
    def ignore_rules(self) -> tuple[IgnoreRule, ...]:
        """`shadow_ignore`, parsed."""
        return self._ignore_rules

    def shadows_workflow(self, workflow_id: str | None) -> bool:
        """Whether `workflow_id` is on the shadow allow-list."""
        return workflow_id is not None and workflow_id in self._shadow_workflows

    def options_for(self, backend_id: str) -> dict[str, Any]:
        """A copy of backend `backend_id`'s options table (empty when there is none)."""
        return dict(self.backends.get(backend_id, {}))

    def backend_settings(self, backend_id: str, *, keep_warm: bool = True) -> BackendSettings:
        """What backend `backend_id` is built with in this environment (`keep_warm` is the
        process's, not the file's: see `BackendSettings`)."""
        return BackendSettings(
            environment=self._name,
            options=self.options_for(backend_id),
            legacy_allowed=self.legacy_may_load,
            keep_warm=keep_warm,
        )

    def notes(self) -> list[str]:
        """Valid but noteworthy settings an operator should see (`turnout flags validate`)."""
        notes = []
        if not self.legacy_allowed and self.reachable_stages & {"off", "shadow", "live"}:
            stages = ", ".join(s for s in STAGES if s in self.reachable_stages & _LEGACY_STAGES)
            notes.append(
                f"legacy killed (legacy_allowed = false): stages {stages} run on "
                f"{self.target_backend} only, without comparison or fallback"
            )
        if self.shadow_sample_percent == 0 and self.reachable_stages & {"shadow", "live"}:
            notes.append("shadow_sample_percent = 0: no execution is compared")
        return notes

    def warnings(self) -> list[str]:
        """Valid settings that break a guarantee of docs/migration-runbook.md: overrides
        that keep executions elsewhere at a completion or a rollback, and a rollout that
        skips `shadow` (`turnout flags validate` and `show` print them)."""
        found = self.override_warnings()
        ahead = {
            stage: share
            for stage, share in self.rollout.shares.items()
            if share > 0 and stage in ("live", "rampdown", "complete")
        }
        if self.stage == "off" and ahead:
            split = ", ".join(f"{stage} {share}%" for stage, share in ahead.items())
            found.append(
                f'rollout sends keys from stage "off" straight to {split}: they skip shadow '
                'and its gate; set the floor to stage = "shadow" first (the runbook\'s step 3)'
            )
        return found


class FlagFile(BaseModel):
    """The whole file. `schema_version` lets a future format be refused clearly."""

    model_config = _STRICT

    schema_version: Literal[1]
    environments: dict[Name, EnvironmentFlags]
    _source: str = PrivateAttr(default="<memory>")

    @model_validator(mode="after")
    def _name_environments(self) -> FlagFile:
        for name, environment in self.environments.items():
            environment._name = name
        return self

    @property
    def source(self) -> str:
        """Where this configuration was read from, for error messages."""
        return self._source

    def environment(self, name: str) -> EnvironmentFlags:
        """The named environment, or a ConfigurationError naming the defined ones."""
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments))
            raise ConfigurationError(
                f"{self.source}: no environment {name!r} (defined: {known}); add "
                f"[environments.{name}] or set {ENVIRONMENT_VARIABLE} to one of those"
            ) from None
