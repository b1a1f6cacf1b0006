"""Masking current-time readings: what counts as one, where it is found, and how a masked
value matches a recording made at another time."""

from __future__ import annotations

import datetime
import time

import pytest

from turnout.timemask import mask_time, matches_masked

NOW = time.time()


def iso(seconds_from_now: float = 0, *, zulu: bool = True) -> str:
    moment = datetime.datetime.fromtimestamp(NOW + seconds_from_now, tz=datetime.UTC)
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if zulu else text


class TestMaskTime:
    @pytest.mark.parametrize(
        ("reading", "token"),
        [
            (iso(), "<now:iso-datetime>"),
            (iso(-3600, zulu=False), "<now:iso-datetime>"),
            (iso()[:19].replace("T", " "), "<now:iso-datetime>"),
            (iso()[:10], "<now:iso-date>"),
            (str(int(NOW)), "<now:epoch-s>"),
            (repr(NOW), "<now:epoch-s>"),
            (str(int(NOW * 1000)), "<now:epoch-ms>"),
            (str(int(NOW * 1_000_000)), "<now:epoch-us>"),
            (str(time.time_ns()), "<now:epoch-ns>"),
        ],
        ids=["iso-z", "iso-offset", "iso-space", "date", "s", "s-fraction", "ms", "us", "ns"],
    )
    def test_a_current_reading_embedded_in_text_becomes_its_token(
        self, reading: str, token: str
    ) -> None:
        """Each kind of reading is masked inside a longer string, the text around it kept."""
        assert mask_time(f"saga_{reading} done", NOW) == f"saga_{token} done"

    def test_a_whole_string_reading_becomes_the_token(self) -> None:
        """A string that is only a current date-time is the bare token."""
        assert mask_time(iso(), NOW) == "<now:iso-datetime>"

    @pytest.mark.parametrize(
        ("value", "token"),
        [(int(NOW), "<now:epoch-s>"), (NOW, "<now:epoch-s>"), (int(NOW * 1000), "<now:epoch-ms>")],
        ids=["s", "s-fraction", "ms"],
    )
    def test_a_current_epoch_number_becomes_its_token(self, value: float, token: str) -> None:
        """time.time(), Date.now() as numbers are masked by their unit."""
        assert mask_time(value, NOW) == token

    @pytest.mark.parametrize(
        "text",
        [
            "born 1990-01-01",
            "due 2020-01-02T03:04:05Z",
            "invoice 1234567890",
            "order 12345678901",
            f"v{int(NOW)}1",
            "version 2.1765087600",
        ],
        ids=["old-date", "old-datetime", "invoice", "order", "longer-number", "version"],
    )
    def test_text_that_is_not_a_current_reading_is_kept(self, text: str) -> None:
        """Old dates, ids with other digit counts or inside longer numbers stay exact."""
        assert mask_time(text, NOW) == text

    def test_ordinary_numbers_and_booleans_are_kept(self) -> None:
        """Small numbers and booleans are never readings."""
        assert mask_time([0, 42, 3.5, True, None], NOW) == [0, 42, 3.5, True, None]

    def test_containers_are_masked_throughout_keys_kept(self) -> None:
        """Values inside lists and dicts are masked; keys are left as they are."""
        assert mask_time({iso(): [f"at {iso()}"]}, NOW) == {iso(): ["at <now:iso-datetime>"]}

    def test_a_reading_two_days_away_is_kept(self) -> None:
        """Only readings within a day of the clock are masked."""
        assert mask_time(iso(-2 * 86400), NOW) == iso(-2 * 86400)


class TestMatchesMasked:
    def test_a_recording_of_another_moment_matches(self) -> None:
        """`'saga_' + Date.now()` recorded last year matches today's masked run."""
        assert matches_masked(mask_time(f"saga_{int(NOW * 1000)}", NOW), "saga_1710408413589")

    def test_the_text_around_the_reading_must_still_match(self) -> None:
        """Only the reading is free; the rest is compared exactly."""
        assert not matches_masked(mask_time(f"saga_{int(NOW * 1000)}", NOW), "sage_1710408413589")

    def test_the_recorded_reading_must_be_of_the_same_kind(self) -> None:
        """A recorded epoch in seconds does not match a masked epoch in milliseconds."""
        assert not matches_masked("saga_<now:epoch-ms>", "saga_1710408413")

    def test_a_recorded_number_matches_a_masked_number(self) -> None:
        """Date.now() recorded as a number matches a masked one."""
        assert matches_masked("<now:epoch-ms>", 1710408413589)
        assert not matches_masked("<now:epoch-ms>", True)
