"""Tests for turnout.flags.evaluate: the per-execution decision and why it was made."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.flags import Decision, FlagEvaluator, bucket, decide
from turnout.flags import evaluate as evaluate_module

from .support import ENV, environment, flag_file

TENANTS = [f"tenant-{number}" for number in range(5_000)]


def decide_in(body: str, **request: object) -> Decision:
    """The decision for one request in an environment built from `body`."""
    return decide(environment(body), **request)  # type: ignore[arg-type]


def behaviour(decision: Decision) -> tuple[str, str | None, bool]:
    """What a decision does: authoritative backend, candidate, shadow run."""
    return (decision.authoritative, decision.candidate, decision.shadow)


class TestStageSemantics:
    def test_off(self) -> None:
        """off: legacy answers and nothing is compared."""
        decision = decide_in('stage = "off"', side_effect_free=True)
        assert behaviour(decision) == ("local-subprocess", None, False)

    def test_shadow(self) -> None:
        """shadow: legacy answers and the target runs for comparison."""
        decision = decide_in('stage = "shadow"', side_effect_free=True)
        assert behaviour(decision) == ("local-subprocess", "e2b", True)

    def test_live(self) -> None:
        """live: the target answers and legacy runs for comparison."""
        decision = decide_in('stage = "live"', side_effect_free=True)
        assert behaviour(decision) == ("e2b", "local-subprocess", True)

    def test_rampdown(self) -> None:
        """rampdown: the target alone."""
        decision = decide_in('stage = "rampdown"', side_effect_free=True)
        assert behaviour(decision) == ("e2b", None, False)

    def test_complete(self) -> None:
        """complete: the target alone."""
        decision = decide_in('stage = "complete"', side_effect_free=True)
        assert behaviour(decision) == ("e2b", None, False)

    def test_configured_backend_ids(self) -> None:
        """The environment's legacy and target ids are the ones used."""
        body = 'stage = "live"\nlegacy_backend = "e2b"\ntarget_backend = "local-subprocess"'
        decision = decide_in(body, side_effect_free=True)
        assert behaviour(decision) == ("local-subprocess", "e2b", True)

    def test_decision_names_environment_and_stage(self) -> None:
        """A decision carries the environment and the stage chosen."""
        decision = decide_in('stage = "shadow"')
        assert (decision.environment, decision.stage) == (ENV, "shadow")


class TestFallback:
    def test_live_allows_fallback(self) -> None:
        """In live, falling back to legacy is allowed by default."""
        assert decide_in('stage = "live"').fallback_allowed is True

    def test_live_fallback_disabled(self) -> None:
        """fallback_to_legacy = false forbids it in live."""
        assert decide_in('stage = "live"\nfallback_to_legacy = false').fallback_allowed is False

    @pytest.mark.parametrize("stage", ["off", "shadow", "rampdown", "complete"])
    def test_no_fallback_outside_live(self, stage: str) -> None:
        """Only live falls back: legacy already answers before it, and must not after it."""
        assert decide_in(f'stage = "{stage}"').fallback_allowed is False


class TestOverrides:
    BODY = (
        'stage = "off"\nrollout = { live = 50 }\n'
        'overrides = { tenants = { acme = "shadow" }, workflows = { wf-1 = "complete" } }'
    )

    def test_tenant_override_beats_rollout(self) -> None:
        """A tenant override wins over the rollout bucket."""
        decision = decide_in(self.BODY, tenant_id="acme")
        assert (decision.stage, decision.reason, decision.bucket) == (
            "shadow",
            "tenant override: shadow; no shadow: node not side-effect-free, workflow not in "
            "shadow_workflows",
            None,
        )

    def test_workflow_override_beats_tenant_override(self) -> None:
        """A workflow override wins over its tenant's override."""
        decision = decide_in(self.BODY, tenant_id="acme", workflow_id="wf-1")
        assert (decision.stage, decision.reason) == ("complete", "workflow override: complete")

    def test_no_override_uses_rollout(self) -> None:
        """Without a matching override the rollout decides."""
        decision = decide_in(self.BODY, tenant_id="other", workflow_id="wf-2")
        assert decision.bucketing_key == "tenant"
        assert decision.reason.startswith("rollout: tenant bucket")


class TestRollout:
    def test_split_is_roughly_the_configured_share(self) -> None:
        """With live = 10, about 10% of tenants are live and the rest get the default stage."""
        flags = environment('stage = "shadow"\nrollout = { live = 10 }')
        stages = [decide(flags, tenant_id=tenant).stage for tenant in TENANTS]
        assert 0.08 < stages.count("live") / len(TENANTS) < 0.12
        assert stages.count("live") + stages.count("shadow") == len(TENANTS)

    def test_bucket_and_reason(self) -> None:
        """The decision reports the bucket, the key kind and the range it fell in."""
        flags = environment('stage = "shadow"\nrollout = { live = 10 }')
        decision = decide(flags, tenant_id="tenant-42")
        expected = bucket("tenant-42", "turnout.prod")
        assert (decision.bucket, decision.bucketing_key) == (expected, "tenant")
        assert f"tenant bucket {expected} in" in decision.reason

    def test_sticky_per_tenant(self) -> None:
        """A tenant gets the same stage for every execution."""
        flags = environment('stage = "off"\nrollout = { live = 50 }')
        stages = {decide(flags, tenant_id="t-7", execution_key=str(n)).stage for n in range(50)}
        assert len(stages) == 1

    def test_raising_live_only_adds_tenants(self) -> None:
        """Raising live from 10% to 20% keeps every tenant that was live."""
        ten = environment('stage = "shadow"\nrollout = { live = 10 }')
        twenty = environment('stage = "shadow"\nrollout = { live = 20 }')
        before = {t for t in TENANTS if decide(ten, tenant_id=t).stage == "live"}
        after = {t for t in TENANTS if decide(twenty, tenant_id=t).stage == "live"}
        assert before < after

    def test_rollout_group_changes_assignment(self) -> None:
        """A different rollout_group assigns tenants independently."""
        default = environment('stage = "off"\nrollout = { live = 50 }')
        other = environment('stage = "off"\nrollout = { live = 50 }\nrollout_group = "g2"')
        same = sum(
            decide(default, tenant_id=t).stage == decide(other, tenant_id=t).stage for t in TENANTS
        )
        assert 0.4 < same / len(TENANTS) < 0.6

    def test_whole_rollout_to_one_stage(self) -> None:
        """A rollout giving one stage 100% applies to every key, even without one."""
        decision = decide_in('stage = "off"\nrollout = { live = 100 }', side_effect_free=True)
        assert (decision.stage, decision.bucket) == ("live", None)
        assert decision.reason.startswith("rollout: live 100%; ")

    def test_no_split_no_bucket(self) -> None:
        """Without a rollout split no bucket is computed."""
        decision = decide_in('stage = "live"', tenant_id="t")
        assert (decision.bucket, decision.bucketing_key) == (None, None)
        assert decision.reason.startswith("stage live (no rollout split)")


class TestBucketingKeyOrder:
    BODY = 'stage = "off"\nrollout = { live = 50 }'

    def test_tenant_first(self) -> None:
        """By default the tenant id is used when present."""
        decision = decide_in(self.BODY, tenant_id="t", workflow_id="w", execution_key="e")
        assert decision.bucketing_key == "tenant"

    def test_workflow_without_tenant(self) -> None:
        """Without a tenant id the workflow id is used."""
        assert decide_in(self.BODY, workflow_id="w", execution_key="e").bucketing_key == "workflow"

    def test_execution_key_last(self) -> None:
        """With only an execution key, it is used."""
        assert decide_in(self.BODY, execution_key="e").bucketing_key == "execution"

    def test_empty_string_is_absent(self) -> None:
        """An empty tenant id counts as no tenant id."""
        assert decide_in(self.BODY, tenant_id="", execution_key="e").bucketing_key == "execution"

    def test_configured_order(self) -> None:
        """bucket_by sets the order in which keys are tried."""
        body = self.BODY + '\nbucket_by = ["execution", "tenant"]'
        assert decide_in(body, tenant_id="t", execution_key="e").bucketing_key == "execution"

    def test_no_key_gives_default_stage(self) -> None:
        """Without any configured key the default stage applies, and the reason says so."""
        decision = decide_in(self.BODY + '\nbucket_by = ["tenant"]', execution_key="e")
        assert (decision.stage, decision.bucket) == ("off", None)
        assert decision.reason == "no bucketing key (tenant): default stage off"


class TestShadowGating:
    def test_side_effects_block_shadow(self) -> None:
        """A node not marked side-effect-free keeps its candidate but is not run twice."""
        decision = decide_in('stage = "shadow"', side_effect_free=False)
        assert (decision.candidate, decision.shadow) == ("e2b", False)
        assert "not side-effect-free" in decision.reason

    def test_allow_listed_workflow_shadows(self) -> None:
        """A workflow on shadow_workflows shadows even without the node mark."""
        body = 'stage = "shadow"\nshadow_workflows = ["wf-safe"]'
        assert decide_in(body, workflow_id="wf-safe").shadow is True

    def test_zero_percent_never_samples(self) -> None:
        """shadow_sample_percent = 0 compares nothing."""
        body = 'stage = "shadow"\nshadow_sample_percent = 0'
        assert decide_in(body, execution_key="e", side_effect_free=True).shadow is False

    def test_sample_share(self) -> None:
        """shadow_sample_percent = 30 samples about 30% of executions."""
        flags = environment('stage = "shadow"\nshadow_sample_percent = 30')
        sampled = [
            decide(flags, execution_key=f"exec-{n}", side_effect_free=True).shadow
            for n in range(5_000)
        ]
        assert 0.27 < sampled.count(True) / len(sampled) < 0.33

    def test_sampling_independent_of_rollout(self) -> None:
        """Live tenants are sampled at about the same rate as everyone else."""
        flags = environment(
            'stage = "shadow"\nrollout = { live = 50 }\nshadow_sample_percent = 50\n'
            'bucket_by = ["execution"]'
        )
        live = [
            decision
            for n in range(5_000)
            if (decision := decide(flags, execution_key=f"e-{n}", side_effect_free=True)).stage
            == "live"
        ]
        assert 0.45 < sum(d.shadow for d in live) / len(live) < 0.55

    def test_sampled_by_bucketing_key_without_execution_key(self) -> None:
        """Without an execution key, sampling uses the first bucketing key present."""
        flags = environment('stage = "shadow"\nshadow_sample_percent = 50')
        runs = {decide(flags, tenant_id="t-1", side_effect_free=True).shadow for _ in range(5)}
        assert len(runs) == 1

    def test_sample_key_samples_when_the_caller_gave_no_execution_id(self) -> None:
        """turnout's own id of each execution samples it when the caller gave no execution
        id: one tenant's executions are compared about half the time at 50%."""
        flags = environment('stage = "shadow"\nshadow_sample_percent = 50')
        sampled = [
            decide(flags, tenant_id="t-1", side_effect_free=True, sample_key=f"run-{n}").shadow
            for n in range(2_000)
        ]
        assert 0.45 < sampled.count(True) / len(sampled) < 0.55

    def test_sample_key_never_decides_the_stage(self) -> None:
        """Without ids, the stage is the default one whatever the sample key."""
        flags = environment('stage = "off"\nrollout = { shadow = 50 }')
        stages = {decide(flags, sample_key=f"run-{n}").stage for n in range(500)}
        assert stages == {"off"}

    def test_no_key_not_sampled(self) -> None:
        """With a partial sample and no key at all, nothing is compared."""
        decision = decide_in('stage = "shadow"\nshadow_sample_percent = 50', side_effect_free=True)
        assert decision.shadow is False
        assert "no key to sample by" in decision.reason


class TestKillSwitch:
    KILLED = "legacy_allowed = false"

    def test_off_runs_target(self) -> None:
        """With legacy killed, off runs the target alone and says why."""
        decision = decide_in(f'stage = "off"\n{self.KILLED}', side_effect_free=True)
        assert behaviour(decision) == ("e2b", None, False)
        assert (decision.stage, decision.legacy_killed) == ("off", True)
        assert "legacy killed" in decision.reason

    def test_shadow_runs_target_only(self) -> None:
        """With legacy killed, shadow runs the target alone."""
        decision = decide_in(f'stage = "shadow"\n{self.KILLED}', side_effect_free=True)
        assert behaviour(decision) == ("e2b", None, False)

    def test_live_loses_comparison_and_fallback(self) -> None:
        """With legacy killed, live neither compares with nor falls back to legacy."""
        decision = decide_in(f'stage = "live"\n{self.KILLED}', side_effect_free=True)
        assert behaviour(decision) == ("e2b", None, False)
        assert decision.fallback_allowed is False

    def test_complete_unchanged(self) -> None:
        """complete never used legacy, so killing it changes nothing but the flag."""
        decision = decide_in(f'stage = "complete"\n{self.KILLED}')
        assert behaviour(decision) == ("e2b", None, False)

    def test_killed_file_is_valid(self) -> None:
        """A kill switch is never refused by validation, so it always takes effect."""
        flags = environment(f'stage = "shadow"\n{self.KILLED}')
        assert flags.legacy_may_load is False
        assert flags.notes() == [
            "legacy killed (legacy_allowed = false): stages shadow run on e2b only, "
            "without comparison or fallback"
        ]


class TestDecisionLog:
    def test_to_log_fields(self) -> None:
        """to_log gives the fields the execution event carries, without the environment."""
        decision = decide_in('stage = "live"', side_effect_free=True)
        assert decision.to_log() == {
            "stage": "live",
            "authoritative_backend": "e2b",
            "candidate_backend": "local-subprocess",
            "shadow": True,
            "fallback_allowed": True,
            "decision_reason": "stage live (no rollout split); shadow: side-effect-free node, "
            "sampled 100%",
            "bucket": None,
            "bucketing_key": None,
            "legacy_killed": False,
            "decided_by": "stage",
            "stage_share": 100,
            "flags_hash": environment('stage = "live"').config_hash,
            "shadow_skipped": None,
        }

    def test_says_an_override_decided(self) -> None:
        """An override's decision names it and claims no rollout share."""
        decision = decide_in(
            'stage = "off"\nrollout = { live = 10 }\noverrides = { tenants = { t = "live" } }',
            tenant_id="t",
        )
        assert (decision.decided_by, decision.share) == ("tenant_override", None)

    def test_says_the_rollout_share_in_force(self) -> None:
        """A rollout bucket's decision carries the share of its stage."""
        body = 'stage = "shadow"\nrollout = { live = 10 }'
        decisions = [decide_in(body, tenant_id=tenant) for tenant in TENANTS[:200]]
        shares = {(d.stage, d.decided_by, d.share) for d in decisions}
        assert shares == {("live", "rollout", 10), ("shadow", "rollout", 90)}

    def test_flags_hash_changes_with_any_setting(self) -> None:
        """Two configurations that differ in one setting carry different hashes."""
        hashes = {
            decide_in(body).flags_hash
            for body in (
                'stage = "live"',
                'stage = "live"\nlegacy_allowed = false',
                'stage = "live"\noverrides = { tenants = { t = "off" } }',
            )
        }
        assert len(hashes) == 3

    def test_says_why_a_node_was_not_compared(self) -> None:
        """An unmarked node and an unsampled execution are told apart."""
        body = 'stage = "shadow"\nshadow_sample_percent = 50'
        assert decide_in(body, execution_key="e").shadow_skipped == "not_marked"
        skipped = {
            decide_in(body, execution_key=f"e{n}", side_effect_free=True).shadow_skipped
            for n in range(50)
        }
        assert skipped == {None, "not_sampled"}

    def test_frozen(self) -> None:
        """A decision cannot be changed after the fact."""
        decision = decide_in('stage = "off"')
        with pytest.raises(dataclasses.FrozenInstanceError):
            decision.stage = "live"  # type: ignore[misc]

    def test_carries_ignore_rules(self) -> None:
        """The environment's ignore rules travel with the decision to the comparison."""
        decision = decide_in('stage = "shadow"\nshadow_ignore = ["$.metadata"]')
        assert [rule.pattern for rule in decision.ignore_rules] == ["$.metadata"]


weird = st.one_of(st.none(), st.text(), st.integers(), st.binary(), st.just("\ud800"))


class TestFlagEvaluator:
    EVALUATOR = FlagEvaluator(flag_file('stage = "off"\nrollout = { live = 30, shadow = 30 }'))

    def test_decides_for_named_environment(self) -> None:
        """decide() evaluates the named environment of the current flags."""
        decision = self.EVALUATOR.decide(ENV, tenant_id="t")
        assert decision.environment == ENV
        assert decision.bucketing_key == "tenant"

    @given(weird, weird, weird, weird, st.text())
    def test_never_raises(
        self, tenant: object, workflow: object, key: object, side: object, env: str
    ) -> None:
        """Arbitrary inputs, odd strings and unknown environments still give a decision."""
        for environment_name in (ENV, env):
            decision = self.EVALUATOR.decide(
                environment_name,
                tenant_id=tenant,  # type: ignore[arg-type]
                workflow_id=workflow,  # type: ignore[arg-type]
                execution_key=key,  # type: ignore[arg-type]
                side_effect_free=side,  # type: ignore[arg-type]
            )
            assert decision.authoritative in ("local-subprocess", "e2b")

    def test_unprintable_key_is_safe(self) -> None:
        """A key whose str() raises gives the safe decision with the failure as reason."""

        class Unprintable:
            def __str__(self) -> str:
                raise ValueError("no text")

        decision = self.EVALUATOR.decide(ENV, tenant_id=Unprintable())  # type: ignore[arg-type]
        assert behaviour(decision) == ("local-subprocess", None, False)
        assert decision.reason.startswith("flag evaluation failed: ValueError: no text")

    def test_unknown_environment_is_safe(self) -> None:
        """An unknown environment gives legacy, no shadow, and says so."""
        decision = self.EVALUATOR.decide("qa", tenant_id="t")
        assert behaviour(decision) == ("local-subprocess", None, False)
        assert decision.reason == "no environment 'qa' in the flags"

    def test_internal_failure_is_safe(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A failure inside evaluation gives the default stage without shadow or fallback."""

        def broken(*_args: object, **_kwargs: object) -> Decision:
            raise RuntimeError("boom")

        monkeypatch.setattr(evaluate_module, "decide", broken)
        evaluator = FlagEvaluator(flag_file('stage = "shadow"'))
        decision = evaluator.decide(ENV, side_effect_free=True)
        assert behaviour(decision) == ("local-subprocess", None, False)
        assert decision.fallback_allowed is False
        assert decision.reason.startswith("flag evaluation failed: RuntimeError: boom")

    def test_internal_failure_respects_kill_switch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The safe decision of a killed environment does not use legacy."""

        def broken(*_args: object, **_kwargs: object) -> Decision:
            raise RuntimeError("boom")

        monkeypatch.setattr(evaluate_module, "decide", broken)
        evaluator = FlagEvaluator(flag_file('stage = "off"\nlegacy_allowed = false'))
        assert evaluator.decide(ENV).authoritative == "e2b"


class TestStagesUsing:
    @pytest.mark.parametrize("stage", ["off", "shadow", "live", "rampdown", "complete"])
    @pytest.mark.parametrize("legacy_allowed", ["true", "false"])
    def test_matches_what_decisions_run(self, stage: str, legacy_allowed: str) -> None:
        """stages_using names exactly the backends decisions at that stage run, answering,
        compared or as the fallback."""
        flags = environment(f'stage = "{stage}"\nlegacy_allowed = {legacy_allowed}')
        decision = decide(flags, side_effect_free=True)
        ran = {decision.authoritative, decision.candidate}
        if decision.fallback_allowed:
            ran.add(flags.legacy_backend)
        expected = {backend: [stage] for backend in ran if backend is not None}
        assert flags.stages_using() == expected

    def test_rollout_and_overrides_count(self) -> None:
        """Stages reached only through the rollout or an override are included."""
        flags = environment(
            'stage = "off"\nrollout = { live = 10 }\n'
            'overrides = { tenants = { acme = "complete" } }'
        )
        assert flags.stages_using() == {
            "local-subprocess": ["off", "live"],
            "e2b": ["live", "complete"],
        }
