"""Tests for the strict validation of feature_flags.toml: one clear, located error each."""

from __future__ import annotations

import pytest

from turnout.errors import ConfigurationError
from turnout.flags import FlagFileError, Problem, check_backend_options, decide, parse_flags
from turnout.registry import default_registry

from .support import KNOWN, SOURCE, document, environment, only_problem, problems


def at(line: int, key_path: str) -> tuple[str, int, str]:
    """The (source, line, key path) a problem should carry."""
    return (SOURCE, line, key_path)


def where(problem: Problem) -> tuple[str, int | None, str]:
    """A problem's location."""
    return (problem.source, problem.line, problem.key_path)


class TestStageErrors:
    def test_stage_required(self) -> None:
        """An environment without a stage is refused at its table header."""
        problem = only_problem(document("legacy_allowed = true"))
        assert where(problem) == at(2, "environments.prod.stage")
        assert problem.message == "is required"

    def test_misspelled_stage(self) -> None:
        """A misspelled stage names the value, the five stages and the likely one."""
        problem = only_problem(document('stage = "liv"'))
        assert where(problem) == at(3, "environments.prod.stage")
        assert problem.message == (
            "'liv' is not a stage (allowed: off, shadow, live, rampdown, complete) "
            "(did you mean 'live'?)"
        )

    def test_misspelled_override_stage(self) -> None:
        """A misspelled stage in an override table is located at its own line."""
        text = document('stage = "off"\n[environments.prod.overrides.tenants]\nacme = "lve"')
        problem = only_problem(text)
        assert where(problem) == at(5, "environments.prod.overrides.tenants.acme")
        assert "'lve' is not a stage" in problem.message

    def test_misspelled_stage_in_inline_override(self) -> None:
        """A bad entry of an inline table is located at the inline table's line."""
        text = document('stage = "off"\noverrides = { workflows = { "wf.1" = "of" } }')
        problem = only_problem(text)
        assert where(problem) == at(4, "environments.prod.overrides.workflows.wf.1")

    def test_misspelled_stage_in_rollout(self) -> None:
        """A rollout key that is not a stage is an unknown key naming the stages."""
        text = document('stage = "off"\n[environments.prod.rollout]\nlve = 10')
        problem = only_problem(text)
        assert where(problem) == at(5, "environments.prod.rollout.lve")
        assert problem.message.startswith("unknown key: rollout keys are stage names")


class TestPercentErrors:
    @pytest.mark.parametrize("value", ["101", "-1"])
    def test_rollout_percent_out_of_range(self, value: str) -> None:
        """A rollout percentage outside 0..100 is refused at its line."""
        problem = only_problem(document(f'stage = "off"\nrollout = {{ live = {value} }}'))
        assert where(problem) == at(4, "environments.prod.rollout.live")

    def test_shadow_sample_percent_out_of_range(self) -> None:
        """shadow_sample_percent above 100 is refused at its line."""
        problem = only_problem(document('stage = "shadow"\nshadow_sample_percent = 150'))
        assert where(problem) == at(4, "environments.prod.shadow_sample_percent")
        assert "100" in problem.message

    def test_fractional_percent(self) -> None:
        """Percentages are whole numbers; 10.5 is refused, not rounded."""
        problem = only_problem(document('stage = "off"\nrollout = { live = 10.5 }'))
        assert where(problem) == at(4, "environments.prod.rollout.live")

    def test_weights_over_100(self) -> None:
        """Rollout percentages summing past 100 are refused at the rollout table."""
        text = document('stage = "off"\n[environments.prod.rollout]\nlive = 60\nshadow = 50')
        problem = only_problem(text)
        assert where(problem) == at(4, "environments.prod.rollout")
        assert problem.message == "stage percentages sum to 110, more than 100"

    def test_weights_naming_default_stage_must_sum_to_100(self) -> None:
        """A rollout that names the default stage must account for all 100%."""
        text = document('stage = "shadow"\n[environments.prod.rollout]\nlive = 10\nshadow = 80')
        problem = only_problem(text)
        assert where(problem) == at(4, "environments.prod.rollout")
        assert "sum to 90" in problem.message
        assert "must sum to 100" in problem.message

    def test_weights_naming_default_stage_summing_to_100(self) -> None:
        """A rollout that names the default stage and sums to 100 is valid."""
        flags = environment('stage = "shadow"\nrollout = { live = 10, shadow = 90 }')
        assert flags.stage_ranges == (("live", 1, 10), ("shadow", 11, 100))


class TestBackendErrors:
    def test_unknown_legacy_backend(self) -> None:
        """An unknown legacy_backend names the known ids."""
        problem = only_problem(document('stage = "off"\nlegacy_backend = "local"'))
        assert where(problem) == at(4, "environments.prod.legacy_backend")
        assert problem.message == "unknown backend id 'local' (known: e2b, local-subprocess)"

    def test_unknown_target_backend(self) -> None:
        """An unknown target_backend is refused at its line."""
        problem = only_problem(document('stage = "live"\ntarget_backend = "e3b"'))
        assert where(problem) == at(4, "environments.prod.target_backend")

    def test_unknown_backend_options_table(self) -> None:
        """Options for an unknown backend are refused at the options table's header."""
        text = document('stage = "off"\n[environments.prod.backends.e3b]\npool_size = 2')
        problem = only_problem(text)
        assert where(problem) == at(4, "environments.prod.backends.e3b")
        assert "unknown backend id 'e3b'" in problem.message

    def test_unknown_default_backend_that_a_stage_needs(self) -> None:
        """The default target id must be known when a reachable stage runs the target."""
        problem = only_problem(document('stage = "shadow"'), known=("local-subprocess",))
        assert where(problem) == at(2, "environments.prod")
        assert "unknown backend id 'e2b'" in problem.message

    def test_unknown_default_backend_no_stage_needs(self) -> None:
        """A default target id that no reachable stage uses is not checked."""
        flags = parse_flags(document('stage = "off"'), known_backends=("local-subprocess",))
        assert flags.environment("prod").target_backend == "e2b"

    def test_ids_unchecked_without_known_backends(self) -> None:
        """Without known backend ids, any non-empty id is accepted."""
        flags = parse_flags(document('stage = "live"\ntarget_backend = "anything"'))
        assert flags.environment("prod").target_backend == "anything"

    def test_same_backend_twice(self) -> None:
        """legacy_backend and target_backend must differ."""
        problem = only_problem(document('stage = "off"\nlegacy_backend = "e2b"'))
        assert where(problem) == at(2, "environments.prod")
        assert "both 'e2b'" in problem.message

    def test_replaced_backend_key(self) -> None:
        """The schema-v0 `backend` key is unknown, with a pointer to its replacement."""
        problem = only_problem(document('stage = "off"\nbackend = "e2b"'))
        assert where(problem) == at(4, "environments.prod.backend")
        assert "replaced by `stage`" in problem.message


class TestOtherErrors:
    def test_duplicate_key(self) -> None:
        """A key written twice is refused as a duplicate at the second line."""
        problem = only_problem(document('stage = "off"\nstage = "live"'))
        assert where(problem) == at(4, "environments.prod.stage")
        assert problem.message.startswith("duplicate key")

    def test_duplicate_table(self) -> None:
        """A table declared twice is refused as a duplicate at the second header."""
        text = document('stage = "off"\n[environments.prod]\nlegacy_allowed = true')
        problem = only_problem(text)
        assert where(problem) == at(4, "environments.prod")
        assert problem.message.startswith("duplicate key")

    def test_unknown_bucketing_key(self) -> None:
        """bucket_by accepts only tenant, workflow and execution."""
        problem = only_problem(document('stage = "off"\nbucket_by = ["tenant", "user"]'))
        assert where(problem) == at(4, "environments.prod.bucket_by.1")
        assert problem.message == "'user' is not a bucketing key (tenant, workflow, execution)"

    def test_repeated_bucketing_key(self) -> None:
        """bucket_by may not list a key twice."""
        problem = only_problem(document('stage = "off"\nbucket_by = ["tenant", "tenant"]'))
        assert where(problem) == at(4, "environments.prod.bucket_by")

    def test_empty_bucketing_keys(self) -> None:
        """bucket_by needs at least one key."""
        problem = only_problem(document('stage = "off"\nbucket_by = []'))
        assert where(problem) == at(4, "environments.prod.bucket_by")

    def test_bad_ignore_rule(self) -> None:
        """An ignore rule that does not parse is refused with its index and line."""
        text = document('stage = "shadow"\nshadow_ignore = ["$.metadata", "stdout"]')
        problem = only_problem(text)
        assert where(problem) == at(4, "environments.prod.shadow_ignore.1")
        assert "must start with '$'" in problem.message

    def test_empty_rollout_group(self) -> None:
        """An empty rollout group is refused."""
        problem = only_problem(document('stage = "off"\nrollout_group = ""'))
        assert where(problem) == at(4, "environments.prod.rollout_group")

    def test_unknown_override_kind(self) -> None:
        """overrides holds only tenants and workflows."""
        problem = only_problem(document('stage = "off"\n[environments.prod.overrides]\nusers = {}'))
        assert where(problem) == at(5, "environments.prod.overrides.users")
        assert problem.message == "unknown key"


class TestAllOrNothing:
    def test_every_problem_in_line_order(self) -> None:
        """Problems in several environments are all reported, ordered by line."""
        text = (
            "schema_version = 1\n"
            "[environments.a]\n"
            'stage = "of"\n'
            "[environments.b]\n"
            'stage = "off"\n'
            'legacy_backend = "nope"\n'
        )
        found = problems(text)
        assert [where(p) for p in found] == [
            at(3, "environments.a.stage"),
            at(6, "environments.b.legacy_backend"),
        ]

    def test_error_is_a_configuration_error_with_one_message(self) -> None:
        """The error is a ConfigurationError whose message joins every located problem."""
        with pytest.raises(ConfigurationError) as caught:
            parse_flags(document('stage = "of"\nbogus = 1'), source=SOURCE, known_backends=KNOWN)
        assert isinstance(caught.value, FlagFileError)
        assert caught.value.message == "; ".join(str(p) for p in caught.value.problems)
        assert f"{SOURCE}:4: environments.prod.bogus: unknown key" in caught.value.message


class TestBackendOptions:
    """Options tables are checked against the options model each backend class declares."""

    @staticmethod
    def option_problems(body: str) -> tuple[Problem, ...]:
        """The problems of a one-environment file, checked with the installed backends."""
        registry = default_registry()
        with pytest.raises(FlagFileError) as caught:
            parse_flags(
                document(body),
                source=SOURCE,
                known_backends=registry.ids,
                option_models=registry.option_models,
            )
        return caught.value.problems

    def test_misspelt_e2b_option_is_located_with_a_suggestion(self) -> None:
        """`pool_sise` under the e2b table is refused at its line, suggesting `pool_size`."""
        [problem] = self.option_problems(
            'stage = "off"\n[environments.prod.backends.e2b]\npool_sise = 4'
        )
        assert where(problem) == at(5, "environments.prod.backends.e2b.pool_sise")
        assert problem.message == "unknown key (did you mean 'pool_size'?)"

    def test_misspelt_local_subprocess_option_is_located_with_a_suggestion(self) -> None:
        """`memroy_mb` under the local-subprocess table is refused, suggesting `memory_mb`."""
        [problem] = self.option_problems(
            'stage = "off"\n[environments.prod.backends.local-subprocess]\nmemroy_mb = 512'
        )
        assert str(problem) == (
            f"{SOURCE}:5: environments.prod.backends.local-subprocess.memroy_mb: "
            "unknown key (did you mean 'memory_mb'?)"
        )

    def test_wrong_type_in_an_inline_table(self) -> None:
        """A wrong type in an inline options table is located at that table's line."""
        [problem] = self.option_problems(
            'stage = "off"\nbackends = { e2b = { output_cap_bytes = "1 MB" } }'
        )
        assert where(problem) == at(4, "environments.prod.backends.e2b.output_cap_bytes")
        assert problem.message == "must be an integer, not a string"

    def test_option_and_schema_problems_are_reported_together(self) -> None:
        """A bad option does not hide a bad stage: every problem comes in one report."""
        found = self.option_problems(
            'stage = "liv"\n[environments.prod.backends.e2b]\npool_size = -1'
        )
        assert [p.key_path for p in found] == [
            "environments.prod.stage",
            "environments.prod.backends.e2b.pool_size",
        ]

    def test_valid_options_pass(self) -> None:
        """Correct options of both backends load."""
        registry = default_registry()
        flags = parse_flags(
            document(
                'stage = "off"\n[environments.prod.backends.e2b]\npool_size = 2\n'
                "[environments.prod.backends.local-subprocess]\nmemory_mb = 256"
            ),
            source=SOURCE,
            known_backends=registry.ids,
            option_models=registry.option_models,
        )
        assert flags.environment("prod").options_for("e2b") == {"pool_size": 2}

    def test_backend_without_a_model_is_not_checked(self) -> None:
        """A backend that declares no options model gets its table as written."""
        text = document('stage = "off"\n[environments.prod.backends.e2b]\nanything = 1')
        flags = parse_flags(text, source=SOURCE, known_backends=KNOWN, option_models={})
        assert flags.environment("prod").options_for("e2b") == {"anything": 1}

    def test_parsed_flags_are_checked_without_lines(self) -> None:
        """check_backend_options finds the same typo in flags parsed without models."""
        flags = parse_flags(
            document('stage = "off"\n[environments.prod.backends.e2b]\npool_sise = 4'),
            source=SOURCE,
        )
        with pytest.raises(FlagFileError) as caught:
            check_backend_options(flags, default_registry().option_models)
        [problem] = caught.value.problems
        assert where(problem) == (SOURCE, None, "environments.prod.backends.e2b.pool_sise")


class TestPerNodeSettings:
    def test_a_bad_node_ignore_rule_is_located(self) -> None:
        """A per-node ignore rule is checked like `shadow_ignore`, at its node's key."""
        problem = only_problem(document('stage = "shadow"\nshadow_ignore_nodes = { n1 = ["x"] }'))
        assert where(problem) == at(4, "environments.prod.shadow_ignore_nodes.n1.0")

    def test_an_accepted_divergence_needs_a_reason_and_an_owner(self) -> None:
        """A ledger entry without an owner, or with a token reason, is refused."""
        found = problems(
            document(
                'stage = "shadow"\n'
                'accepted_divergences = [{ node = "n1", path = "$.output.a", reason = "ok" }]'
            )
        )
        assert {p.key_path for p in found} == {
            "environments.prod.accepted_divergences.0.reason",
            "environments.prod.accepted_divergences.0.owner",
        }

    def test_rules_for_a_node_add_to_the_environments(self) -> None:
        """A node gets the environment's rules plus its own, by code hash or node id."""
        flags = environment(
            'stage = "shadow"\nshadow_ignore = ["$.metadata"]\n'
            'shadow_ignore_nodes = { abc = ["$.output.a"], "node-7" = ["$.output.b"] }'
        )
        decision = decide(flags, side_effect_free=True)
        rules, accepted = decision.rules_for("abc", "node-7")
        assert [rule.pattern for rule in rules] == ["$.metadata", "$.output.a", "$.output.b"]
        assert accepted == ()
        assert [rule.pattern for rule in decision.rules_for("other", None)[0]] == ["$.metadata"]
