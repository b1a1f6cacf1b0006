"""Tests for turnout.flags.bucketing: Unleash's normalized murmur3 and stage ranges."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.flags import STAGES, Stage, bucket, stage_for_bucket, stage_ranges

KEYS = [f"key-{number}" for number in range(10_000)]
RANK = {stage: rank for rank, stage in enumerate(STAGES)}


class TestBucket:
    @pytest.mark.parametrize(("key", "expected"), [("174", 10), ("499", 32)])
    def test_unleash_published_vectors(self, key: str, expected: int) -> None:
        """Unleash's published vectors in group Feature.flexibleRollout.10 come out exactly."""
        assert bucket(key, "Feature.flexibleRollout.10") == expected

    def test_pinned_turnout_vector(self) -> None:
        """A turnout key keeps its bucket across releases and processes (no salted hash)."""
        assert bucket("tenant-42", "turnout.production") == 15

    @given(st.text(), st.text())
    def test_in_range(self, key: str, group: str) -> None:
        """Every key, including lone surrogates and empty strings, lands in 1..100."""
        assert 1 <= bucket(key, group) <= 100

    @given(st.text(), st.text())
    def test_deterministic(self, key: str, group: str) -> None:
        """The same key and group always give the same bucket (sticky)."""
        assert bucket(key, group) == bucket(key, group)

    def test_roughly_uniform(self) -> None:
        """10,000 keys spread over the 100 buckets within a chi-square bound (p < 0.001)."""
        counts = Counter(bucket(key, "turnout.production") for key in KEYS)
        expected = len(KEYS) / 100
        chi_square = sum((counts[b] - expected) ** 2 / expected for b in range(1, 101))
        assert chi_square < 148.2  # chi-square critical value, 99 degrees of freedom

    def test_groups_are_independent(self) -> None:
        """Two groups put a key in the same bucket about 1% of the time, not always."""
        same = sum(bucket(key, "turnout.a") == bucket(key, "turnout.b") for key in KEYS)
        assert same < 3 * len(KEYS) / 100

    def test_groups_select_unrelated_tenths(self) -> None:
        """The first 10% of one group overlaps the first 10% of another by about 1%."""
        both = sum(bucket(k, "turnout.a") <= 10 and bucket(k, "turnout.b") <= 10 for k in KEYS)
        assert 40 <= both <= 200


class TestStageRanges:
    def test_most_advanced_stage_first(self) -> None:
        """Ranges run from complete down to off, so promotions only move keys forward."""
        ranges = stage_ranges({"off": 10, "shadow": 20, "live": 30, "rampdown": 25, "complete": 15})
        assert ranges == (
            ("complete", 1, 15),
            ("rampdown", 16, 40),
            ("live", 41, 70),
            ("shadow", 71, 90),
            ("off", 91, 100),
        )

    def test_empty_shares_are_left_out(self) -> None:
        """A stage with 0% has no range."""
        assert stage_ranges({"live": 0, "shadow": 100}) == (("shadow", 1, 100),)

    def test_bucket_found_in_its_range(self) -> None:
        """A bucket maps to the range that contains it."""
        ranges = stage_ranges({"live": 10, "shadow": 90})
        assert stage_for_bucket(10, ranges) == ("live", 1, 10)
        assert stage_for_bucket(11, ranges) == ("shadow", 11, 100)

    def test_uncovered_bucket(self) -> None:
        """A bucket outside every range maps to nothing."""
        assert stage_for_bucket(50, stage_ranges({"live": 10})) is None


def _stage_of(key: str, shares: dict[Stage, int]) -> Stage:
    found = stage_for_bucket(bucket(key, "turnout.monotonic"), stage_ranges(shares))
    return "off" if found is None else found[0]  # the remainder is the default stage, off


shares_strategy = st.lists(st.integers(0, 25), min_size=4, max_size=4).map(
    lambda values: dict(zip(("shadow", "live", "rampdown", "complete"), values, strict=True))
)


class TestMonotonicity:
    @given(shares_strategy, st.sampled_from(["shadow", "live", "rampdown", "complete"]))
    def test_raising_a_share_only_adds_keys(self, shares: dict[Stage, int], raised: Stage) -> None:
        """Raising one stage's share (from the remainder) never removes a key from it."""
        bigger = {**shares, raised: shares[raised] + 100 - sum(shares.values())}
        before = {key for key in KEYS[:500] if _stage_of(key, shares) == raised}
        after = {key for key in KEYS[:500] if _stage_of(key, bigger) == raised}
        assert before <= after

    @given(shares_strategy, st.sampled_from(["shadow", "live", "rampdown", "complete"]))
    def test_promotion_never_moves_a_key_back(
        self, shares: dict[Stage, int], raised: Stage
    ) -> None:
        """Raising a stage's share at the expense of the remainder moves no key backwards."""
        bigger = {**shares, raised: shares[raised] + 100 - sum(shares.values())}
        for key in KEYS[:500]:
            assert RANK[_stage_of(key, bigger)] >= RANK[_stage_of(key, shares)]
