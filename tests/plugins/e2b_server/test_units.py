"""Unit tests of the server's pure parts: paths, settings, faults, results, list filters,
and the kernel pool (with stand-in kernels)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from turnout_e2b_server import pool as pool_module
from turnout_e2b_server.config import ServerConfig
from turnout_e2b_server.contexts import kernel_language, normalize_language
from turnout_e2b_server.control import _metadata_filter
from turnout_e2b_server.errors import ApiError
from turnout_e2b_server.faults import Fault, FaultQueue
from turnout_e2b_server.kernels.base import EventSink, Kernel
from turnout_e2b_server.kernels.results import result_event, strip_quotes
from turnout_e2b_server.paths import host_path, sandbox_path
from turnout_e2b_server.pool import KernelPool, KernelUnavailableError
from turnout_e2b_server.sandbox_mounts import SandboxMounts
from turnout_e2b_server.streaming import encode_line


class TestSandboxPath:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("a.txt", "/home/user/a.txt"),
            ("/home/user/x/../y", "/home/user/y"),
            ("/home/user", "/home/user"),
            ("./d/./e", "/home/user/d/e"),
        ],
    )
    def test_normalises_into_the_home(self, raw: str, expected: str) -> None:
        """Relative and absolute paths normalise to an absolute path under /home/user."""
        assert sandbox_path(raw) == expected

    @pytest.mark.parametrize("raw", ["..", "/home/userx/a", "/tmp/a", "", "a\x00b"])
    def test_refuses_paths_outside_the_home(self, raw: str) -> None:
        """Anything outside /home/user (or empty, or with NUL) is a 400."""
        with pytest.raises(ApiError) as caught:
            sandbox_path(raw)
        assert caught.value.status == 400

    def test_maps_into_the_sandbox_directory(self, tmp_path: Path) -> None:
        """The host path of /home/user/a/b is <home>/a/b."""
        target, virtual = host_path(tmp_path, "/home/user/a/b")
        assert (target, virtual) == (tmp_path.resolve() / "a" / "b", "/home/user/a/b")


class TestServerConfig:
    def test_update_merges_pool_sizes(self) -> None:
        """A partial pool_sizes update keeps the other languages' sizes."""
        config = ServerConfig()
        config.update({"pool_sizes": {"javascript": 0}})
        assert config.pool_sizes == {"python": 4, "javascript": 0}

    def test_update_is_all_or_nothing(self) -> None:
        """If one change is invalid, none is applied."""
        config = ServerConfig()
        with pytest.raises(ValueError, match="max_sandboxes"):
            config.update({"create_delay_ms": 5, "max_sandboxes": -1})
        assert config.create_delay_ms == 0


class TestFaultQueue:
    def test_count_limits_how_often_a_fault_fires(self) -> None:
        """A count-2 fault is taken twice, then the queue is empty."""
        queue = FaultQueue()
        queue.add([Fault.from_json({"kind": "create_error", "status": 503, "count": 2})])
        taken = [queue.take("create_error") for _ in range(3)]
        assert [fault is not None for fault in taken] == [True, True, False]

    def test_sandbox_specific_fault_skips_other_sandboxes(self) -> None:
        """A fault aimed at one sandbox is not taken by another's execution."""
        queue = FaultQueue()
        queue.add([Fault.from_json({"kind": "drop_stream", "after_ms": 1, "sandbox_id": "a"})])
        assert queue.take("drop_stream", "b") is None
        assert queue.take("drop_stream", "a") is not None

    def test_skip_lets_matching_calls_through_before_firing(self) -> None:
        """A fault with skip 2 lets two matching calls through, then fires on the third."""
        queue = FaultQueue()
        queue.add([Fault.from_json({"kind": "kill_mid_run", "after_ms": 1, "skip": 2})])
        taken = [queue.take("kill_mid_run") for _ in range(4)]
        assert [fault is not None for fault in taken] == [False, False, True, False]

    @pytest.mark.parametrize("skip", [-1, 1.5, True, "1"])
    def test_skip_must_be_a_non_negative_integer(self, skip: object) -> None:
        """A skip that is not a whole number of calls is refused, naming the field."""
        with pytest.raises(ValueError, match="skip must be a non-negative integer"):
            Fault.from_json({"kind": "drop_stream", "after_ms": 1, "skip": skip})


class TestResults:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [("'hello'", "hello"), ('"It\'s"', "It's"), ("'a\"", "'a\""), ("5", "5"), ("", "")],
    )
    def test_strip_quotes_removes_one_matching_pair(self, text: str, expected: str) -> None:
        """One pair of matching surrounding quotes is removed, nothing else."""
        assert strip_quotes(text) == expected

    def test_result_event_maps_mime_types(self) -> None:
        """Known mime types become fields; unknown ones go to extra."""
        event = result_event(
            {"text/plain": "'x'", "text/html": "<b>x</b>", "application/x-custom": 1},
            is_main_result=False,
        )
        assert event == {
            "type": "result",
            "text": "x",
            "html": "<b>x</b>",
            "extra": {"application/x-custom": 1},
            "is_main_result": False,
        }


class TestEncoding:
    def test_nan_is_encoded_as_null(self) -> None:
        """A non-finite float never reaches the wire as NaN."""
        assert encode_line({"x": float("nan")}) == b'{"x": null}\n'


class TestListFilters:
    def test_metadata_filter_decodes_the_sdk_encoding(self) -> None:
        """The SDK's double encoding of keys and values is undone."""
        assert _metadata_filter("k%2520x=v%2526w&b=1") == {"k x": "v&w", "b": "1"}


class TestLanguages:
    @pytest.mark.parametrize(
        ("language", "normalised"),
        [(None, "python"), ("js", "javascript"), ("TS", "typescript"), ("Python", "python")],
    )
    def test_normalisation_follows_e2b(self, language: str | None, normalised: str) -> None:
        """Languages are normalised the way E2B's server does it."""
        assert normalize_language(language) == normalised

    def test_unknown_language_has_no_kernel(self) -> None:
        """A language without a kernel raises KernelUnavailableError."""
        with pytest.raises(KernelUnavailableError):
            kernel_language("r")


class TestJavaScriptFactory:
    async def test_missing_module_is_reported_as_unavailable(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Without the JavaScript kernel module, starting one raises KernelUnavailableError."""
        monkeypatch.setattr(pool_module, "JAVASCRIPT_MODULE", "turnout_e2b_server.kernels.nope")
        with pytest.raises(KernelUnavailableError, match="not available"):
            await pool_module._start_javascript_kernel(
                "javascript", neutral_cwd=tmp_path, base_env={}
            )


class FakeKernel:
    """A stand-in kernel: a number instead of a process."""

    language = "python"

    def __init__(self, number: int) -> None:
        self.number = number
        self.stopped = False

    @property
    def pid(self) -> int | None:
        return None if self.stopped else 100_000 + self.number

    async def adopt(
        self, cwd: str, env_vars: Mapping[str, str], *, sandbox: SandboxMounts | None = None
    ) -> None:
        pass

    async def execute(
        self,
        code: str,
        emit: EventSink,
        *,
        env_vars: Mapping[str, str] | None = None,
        language: str | None = None,
    ) -> None:
        pass

    async def interrupt(self) -> None:
        pass

    async def shutdown(self) -> None:
        self.stopped = True


class GatedFactory:
    """Starts FakeKernels, each only once the test opens its gate (or fails it)."""

    def __init__(self) -> None:
        self.gates: list[asyncio.Future[None]] = []
        self.kernels: list[FakeKernel] = []
        self._numbers = itertools.count(1)
        self._new_gate = asyncio.Event()
        self._open = False

    async def __call__(self, language: str, *, neutral_cwd: Path, base_env: Any) -> Kernel:
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._open:
            gate.set_result(None)
        self.gates.append(gate)
        self._new_gate.set()
        number = next(self._numbers)
        await gate
        kernel = FakeKernel(number)
        self.kernels.append(kernel)
        return kernel

    def open_all(self) -> None:
        """Let every start, pending or future, complete."""
        self._open = True
        for gate in self.gates:
            if not gate.done():
                gate.set_result(None)

    async def started(self, count: int) -> None:
        """Wait (at most 5 s) until `count` starts have begun."""
        async with asyncio.timeout(5):
            while len(self.gates) < count:
                self._new_gate.clear()
                await self._new_gate.wait()


async def settle() -> None:
    """Let every ready task run."""
    for _ in range(20):
        await asyncio.sleep(0)


class TestKernelPool:
    async def test_a_miss_claims_the_kernel_being_started(self, tmp_path: Path) -> None:
        """A take that finds the pool empty gets the kernel a refill is starting."""
        factory = GatedFactory()
        pool = KernelPool({"python": factory}, {"python": 1}, tmp_path)
        pool.start()
        await factory.started(1)
        take = asyncio.create_task(pool.take("python"))
        await settle()
        starts_while_waiting = len(factory.gates)
        factory.gates[0].set_result(None)
        kernel = await take
        factory.open_all()
        await pool.close()
        assert (starts_while_waiting, kernel.pid) == (1, 100_001)

    async def test_a_second_miss_starts_its_own_kernel(self, tmp_path: Path) -> None:
        """Only one take may claim a kernel being started; the next starts another."""
        factory = GatedFactory()
        pool = KernelPool({"python": factory}, {"python": 1}, tmp_path)
        pool.start()
        await factory.started(1)
        first = asyncio.create_task(pool.take("python"))
        second = asyncio.create_task(pool.take("python"))
        await settle()
        starts_while_waiting = len(factory.gates)
        factory.open_all()
        await asyncio.gather(first, second)
        await pool.close()
        assert starts_while_waiting == 2

    async def test_a_failed_start_sends_its_claimant_to_start_its_own(self, tmp_path: Path) -> None:
        """When the claimed start fails, the waiting take starts a kernel itself."""
        factory = GatedFactory()
        pool = KernelPool({"python": factory}, {"python": 1}, tmp_path)
        pool.start()
        await factory.started(1)
        take = asyncio.create_task(pool.take("python"))
        await settle()
        factory.gates[0].set_exception(RuntimeError("boom"))
        await factory.started(2)
        factory.open_all()
        kernel = await take
        await pool.close()
        assert kernel.pid == 100_002

    async def test_refills_run_side_by_side_up_to_the_limit(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An empty pool of four is refilled REFILL_PARALLELISM starts at a time."""
        monkeypatch.setattr(pool_module, "REFILL_PARALLELISM", 2)
        factory = GatedFactory()
        pool = KernelPool({"python": factory}, {"python": 4}, tmp_path)
        pool.start()
        await settle()
        in_flight = len(factory.gates)
        factory.gates[0].set_result(None)
        await settle()
        after_one = len(factory.gates)
        factory.open_all()
        await settle()
        idle = pool.idle_counts()
        await pool.close()
        assert (in_flight, after_one, idle) == (2, 3, {"python": 4})

    async def test_close_stops_every_ready_kernel(self, tmp_path: Path) -> None:
        """Closing the pool shuts its ready kernels down."""
        factory = GatedFactory()
        pool = KernelPool({"python": factory}, {"python": 1}, tmp_path)
        pool.start()
        factory.open_all()
        await factory.started(1)
        await settle()
        await pool.close()
        assert [kernel.stopped for kernel in factory.kernels] == [True]
