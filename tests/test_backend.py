"""The backend protocol's helpers: the optional members, provisioning, the marker."""

from __future__ import annotations

import pytest

from turnout.backend import (
    declared_endpoint,
    declared_max_concurrency,
    provisioning_ms,
    truncation_marker,
)


class Declaring:
    def __init__(self, **members: object) -> None:
        self.__dict__.update(members)


class TestOptionalMembers:
    def test_a_declared_endpoint_is_read(self) -> None:
        """`endpoint` names where executions go."""
        assert declared_endpoint(Declaring(endpoint="E2B cloud")) == "E2B cloud"

    def test_no_endpoint_is_none(self) -> None:
        """Without the member (or with an empty one), the backend runs locally: None."""
        assert (declared_endpoint(Declaring()), declared_endpoint(Declaring(endpoint=""))) == (
            None,
            None,
        )

    def test_a_positive_max_concurrency_is_read(self) -> None:
        """`max_concurrency` is how many executions run at once."""
        assert declared_max_concurrency(Declaring(max_concurrency=8)) == 8

    @pytest.mark.parametrize("value", [None, 0, -1, True, "8", 2.0])
    def test_anything_but_a_positive_integer_is_no_limit(self, value: object) -> None:
        """A missing, boolean, non-positive or non-integer value declares no limit."""
        assert declared_max_concurrency(Declaring(max_concurrency=value)) is None

    def test_an_options_object_is_not_read(self) -> None:
        """Only the member itself counts, never a backend's own options object."""
        options = Declaring(max_concurrency=4)
        assert declared_max_concurrency(Declaring(options=options)) is None


class TestHelpers:
    def test_provisioning_adds_the_provisioning_phases_only(self) -> None:
        """queue, create, pool_take, setup and spawn are provisioning; run is not."""
        timings = {"queue": 1, "create": 2, "pool_take": 3, "setup": 4, "spawn": 5, "run": 9}
        assert provisioning_ms(timings) == 15.0

    def test_the_truncation_marker_names_stream_and_cap(self) -> None:
        """Every backend appends the same marker line."""
        assert truncation_marker("stdout", 10) == "\n[turnout: stdout truncated at 10 bytes]"
