"""The provisioning clock: what it records, for which runs, and what it leaves alone."""

from __future__ import annotations

from turnout.backend import BackendSettings, ExecutionBackend
from turnout.conformance.timing import RUN_LABEL, ProvisioningClock
from turnout.contract import prepare_request
from turnout.models import ExecutionRequest, parse_config

from .support import fake_backend

TIMINGS = {"queue": 2.0, "create": 40.0, "pool_take": 3.0, "run": 500.0, "download": 9.0}


def backend() -> ExecutionBackend:
    instance: ExecutionBackend = fake_backend("ref", timings_ms=TIMINGS)(BackendSettings())
    return instance


def request(labels: dict[str, str]) -> ExecutionRequest:
    config = parse_config({"language": "python", "code": "return 1"})
    return prepare_request(config, {}, execution_id="e1", max_result_bytes=1024, labels=labels)


class TestProvisioningClock:
    async def test_records_only_the_provisioning_phases_of_a_labelled_run(self) -> None:
        """queue + create + pool_take are recorded under the run key; run and download not."""
        clock = ProvisioningClock()
        await clock.wrap(backend()).execute(request({RUN_LABEL: "k1"}))
        assert clock.take("k1") == 45.0

    async def test_a_taken_or_unlabelled_run_reads_zero(self) -> None:
        """take() forgets what it returned, and executions without the label record nothing."""
        clock = ProvisioningClock()
        wrapped = clock.wrap(backend())
        await wrapped.execute(request({RUN_LABEL: "k1"}))
        await wrapped.execute(request({"tenant": "t"}))
        clock.take("k1")
        assert (clock.take("k1"), clock.take("t")) == (0.0, 0.0)

    def test_the_wrapped_backend_keeps_its_id_capabilities_and_attributes(self) -> None:
        """The wrapper is a full backend: same id, same capabilities, other attributes through."""
        inner = backend()
        wrapped = ProvisioningClock().wrap(inner)
        assert (wrapped.id, wrapped.capabilities) == (inner.id, inner.capabilities)
        assert wrapped.settings is inner.settings  # type: ignore[attr-defined]

    def test_wrapping_twice_wraps_once(self) -> None:
        """A backend already seen through a clock is not wrapped again."""
        clock = ProvisioningClock()
        wrapped = clock.wrap(backend())
        assert clock.wrap(wrapped) is wrapped
