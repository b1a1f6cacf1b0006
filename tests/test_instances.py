"""Tests for turnout.instances: hot reload rebuilds backends whose options changed, drains
the old instance and closes it, or refuses the whole reload."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, ClassVar

import psutil
import pydantic
import pytest

import turnout
from turnout import Engine, parse_config
from turnout.backend import BackendSettings
from turnout.errors import ConfigurationError
from turnout.logging import capture_logs
from turnout.models import MAX_TIMEOUT_MS, Capabilities, ExecutionRequest, ExecutionResult
from turnout.registry import BackendRegistry

ENV = "prod"


def write_flags(path: Path, body: str, *, bump: int) -> None:
    """A flag file with one environment; its mtime moved `bump` seconds on, so a reload
    sees the edit whatever the file system's timestamp resolution."""
    path.write_text(f"schema_version = 1\n[environments.{ENV}]\n{body.strip()}\n")
    os.utime(path, (1_000_000 + bump, 1_000_000 + bump))


async def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Poll `condition` until it holds (the bound is a guard against a hang, not a speed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


# -- a real worker on local-subprocess ----------------------------------------------------------

LOCAL = """
stage = "off"
[environments.prod.backends.local-subprocess]
output_cap_bytes = {cap}
"""
PRINT_AFTER = "import time\ntime.sleep({sleep})\nprint('x' * 3000)\nreturn {value}"
# Prints once a file named `go` appears in its working directory (see `let_go`), so that it
# is still in flight whatever the machine's load.
PRINT_ON_GO = (
    "import os, time\ndeadline = time.time() + 60\n"
    "while not os.path.exists('go') and time.time() < deadline:\n    time.sleep(0.02)\n"
    "print('x' * 3000)\nreturn {value}"
)


def children() -> set[int]:
    """Pids of every process this test process started, transitively."""
    return {child.pid for child in psutil.Process().children(recursive=True)}


def let_go(pids: set[int]) -> None:
    """Create `go` in the working directory of each of `pids` that still runs."""
    for pid in pids:
        try:
            (Path(psutil.Process(pid).cwd()) / "go").write_text("")
        except (psutil.Error, OSError):
            continue


async def test_reload_mid_flight_drains_the_old_instance_and_applies_the_new_cap(
    tmp_path: Path,
) -> None:
    """A worker loop keeps running while output_cap_bytes is edited: the execution in
    flight finishes on the old instance with the old cap, the next one gets the new cap,
    and the old instance is closed with nothing of it left running."""
    path = tmp_path / "flags.toml"
    write_flags(path, LOCAL.format(cap=1024), bump=0)
    elsewhere = children()  # what other tests' engines in this process keep running
    engine = Engine(ENV, flags_path=path, check_interval=0)
    try:

        async def execute(code: str, value: int) -> dict[str, Any]:
            config = parse_config({"language": "python", "code": code})
            return await engine.execute(config, {}, labels={"execution": f"job-{value}"})

        old = engine.backend("local-subprocess")
        in_flight = asyncio.create_task(execute(PRINT_ON_GO.format(value=1), 1))
        await wait_until(lambda: getattr(old, "in_flight", 1) == 1 and bool(children() - elsewhere))
        old_processes = children() - elsewhere  # the program, and the old instance's spares

        write_flags(path, LOCAL.format(cap=2048), bump=1)
        with capture_logs() as logs:
            # the worker's next job applies the reload
            after = await execute(PRINT_AFTER.format(sleep=0, value=2), 2)
        new = engine.backend("local-subprocess")
        assert new is not old
        assert after.stdout.endswith("[turnout: stdout truncated at 2048 bytes]")
        assert new.capabilities.max_output_bytes == 2048
        assert not old.closed  # type: ignore[attr-defined]  # still draining: one execution in flight

        let_go(old_processes)
        before = await in_flight
        assert before.stdout.endswith("[turnout: stdout truncated at 1024 bytes]")
        await wait_until(lambda: bool(old.closed))  # type: ignore[attr-defined]
        await wait_until(lambda: not any(psutil.pid_exists(pid) for pid in old_processes))
        [rebuilt] = [e for e in logs if e["event"] == "backend_rebuilt"]
        assert (rebuilt["backend"], rebuilt["changed"]) == (
            "local-subprocess",
            ["options.output_cap_bytes"],
        )
        assert rebuilt["draining"] == 1
    finally:
        await engine.aclose()


@pytest.mark.parametrize(
    ("edit", "cause", "not_blamed"),
    [
        ('stage = "complete"', 'stage = "complete"', "legacy_allowed"),
        ('stage = "live"\nlegacy_allowed = false', "legacy_allowed = false", 'stage = "'),
    ],
    ids=["complete", "kill-switch"],
)
async def test_reload_that_makes_legacy_unloadable_closes_it_and_refuses_legacy_calls(
    tmp_path: Path, edit: str, cause: str, not_blamed: str
) -> None:
    """A worker that loaded local-subprocess and is reloaded to `complete` (or the kill
    switch) closes it, and an explicit local-subprocess call is refused naming the
    setting that caused it."""
    path = tmp_path / "flags.toml"
    write_flags(path, 'stage = "live"', bump=0)
    engine = Engine(ENV, flags_path=path, check_interval=0)
    config = parse_config({"language": "python", "code": "return 1"})
    try:
        ran = await engine.execute(config, {}, backend="local-subprocess")
        assert ran.metadata.backend == "local-subprocess"
        legacy = engine.backend("local-subprocess")
        write_flags(path, edit, bump=1)
        assert engine.environment_flags.legacy_may_load is False  # the reload applied
        await wait_until(lambda: bool(legacy.closed))  # type: ignore[attr-defined]
        with pytest.raises(ConfigurationError) as refused:
            await engine.execute(config, {}, backend="local-subprocess")
        assert cause in refused.value.message
        assert not_blamed not in refused.value.message
    finally:
        await engine.aclose()


# -- the rules, on fake backends ----------------------------------------------------------------


class FakeOptions(pydantic.BaseModel):
    """Options of the fake backends: `mode = "broken"` passes the model but the
    constructor refuses it, as a backend refuses what only it can judge."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    mode: str = "normal"


class FakeBackend:
    """Records what it was built with; executions wait for `release` when told to."""

    id: ClassVar[str] = "fake-legacy"
    deprecated: ClassVar[bool] = True
    description: ClassVar[str] = "a fake legacy backend"
    options_model: ClassVar[type[FakeOptions]] = FakeOptions
    built: ClassVar[list[FakeBackend]] = []

    def __init__(self, settings: BackendSettings) -> None:
        if not settings.legacy_allowed and self.deprecated:
            raise ConfigurationError(f"{self.id} may not load here")
        self.options = FakeOptions.model_validate(dict(settings.options))
        if self.options.mode == "broken":
            raise ConfigurationError(f"{self.id} refuses mode 'broken'")
        self.closed = False
        self.release: asyncio.Event | None = None
        self.built.append(self)

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            languages=frozenset({"python"}),
            isolation="process",
            network_access=False,
            max_timeout_ms=MAX_TIMEOUT_MS,
            max_output_bytes=1024,
            max_result_bytes=1024,
            memory_limit_mb=None,
            memory_enforcement="none",
        )

    async def execute(self, request: ExecutionRequest) -> ExecutionResult:
        if self.release is not None:
            await self.release.wait()
        return ExecutionResult(result=b'{"ok": true, "value": null, "channel": "return"}')

    async def aclose(self) -> None:
        self.closed = True


class FakeTarget(FakeBackend):
    id: ClassVar[str] = "fake-target"
    deprecated: ClassVar[bool] = False
    description: ClassVar[str] = "a fake target backend"


FAKES = """
legacy_backend = "fake-legacy"
target_backend = "fake-target"
stage = "{stage}"
legacy_allowed = {legacy_allowed}
[environments.prod.backends.fake-legacy]
mode = "{legacy_mode}"
[environments.prod.backends.fake-target]
mode = "{target_mode}"
"""


def fakes(
    stage: str = "shadow",
    legacy_mode: str = "normal",
    target_mode: str = "normal",
    legacy_allowed: str = "true",
) -> str:
    return FAKES.format(
        stage=stage,
        legacy_mode=legacy_mode,
        target_mode=target_mode,
        legacy_allowed=legacy_allowed,
    )


@pytest.fixture
async def fake_engine(tmp_path: Path) -> AsyncIterator[tuple[Engine, Path]]:
    """An engine over the two fake backends, both built, reloading on every look."""
    FakeBackend.built.clear()
    registry = BackendRegistry()
    registry.add(FakeBackend)
    registry.add(FakeTarget)
    path = tmp_path / "flags.toml"
    write_flags(path, fakes(), bump=0)
    engine = Engine(ENV, flags_path=path, registry=registry, check_interval=0)
    engine.backend("fake-legacy")
    engine.backend("fake-target")
    yield engine, path
    await engine.aclose()


def inner(engine: Engine, backend_id: str) -> FakeBackend:
    """The fake instance new executions of `backend_id` get."""
    backend: Any = engine.backend(backend_id)
    return backend.inner  # type: ignore[no-any-return]


class TestApply:
    async def test_unchanged_options_keep_the_instance(
        self, fake_engine: tuple[Engine, Path]
    ) -> None:
        """A reload that leaves a backend's settings alone keeps its instance."""
        engine, path = fake_engine
        before = inner(engine, "fake-legacy")
        write_flags(path, fakes(stage="off"), bump=1)
        assert engine.environment_flags.stage == "off"
        assert inner(engine, "fake-legacy") is before

    async def test_changed_options_build_a_new_instance_and_close_the_idle_old_one(
        self, fake_engine: tuple[Engine, Path]
    ) -> None:
        """New options give new executions a new instance; the idle old one is closed."""
        engine, path = fake_engine
        before = inner(engine, "fake-target")
        write_flags(path, fakes(target_mode="fast"), bump=1)
        after = inner(engine, "fake-target")
        assert after is not before
        assert after.options.mode == "fast"
        await wait_until(lambda: before.closed)

    async def test_old_instance_closes_only_after_its_executions_finish(
        self, fake_engine: tuple[Engine, Path]
    ) -> None:
        """An execution in flight keeps the retired instance open until it ends."""
        engine, path = fake_engine
        before = inner(engine, "fake-target")
        before.release = asyncio.Event()
        config = parse_config({"language": "python", "code": "return 1"})
        running = asyncio.create_task(engine.execute(config, {}, backend="fake-target"))
        await wait_until(lambda: getattr(engine.backend("fake-target"), "in_flight", 0) == 1)
        write_flags(path, fakes(target_mode="fast"), bump=1)
        assert inner(engine, "fake-target") is not before
        await asyncio.sleep(0.05)
        assert not before.closed
        before.release.set()
        assert (await running).output is None
        await wait_until(lambda: before.closed)

    async def test_refused_rebuild_keeps_the_last_good_configuration(
        self, fake_engine: tuple[Engine, Path]
    ) -> None:
        """When a backend the new flags use refuses its new options, nothing applies: the
        flags, both instances and their options stay, and the log says why."""
        engine, path = fake_engine
        legacy, target = inner(engine, "fake-legacy"), inner(engine, "fake-target")
        write_flags(path, fakes(stage="live", legacy_mode="fast", target_mode="broken"), bump=1)
        with capture_logs() as logs:
            assert engine.environment_flags.stage == "shadow"
        [failed] = [e for e in logs if e["event"] == "flags_reload_failed"]
        assert failed["error"] == (
            "backend 'fake-target' cannot be built with the new settings (options.mode): "
            "fake-target refuses mode 'broken'"
        )
        assert failed["action"] == "kept the last good configuration"
        assert (inner(engine, "fake-legacy"), inner(engine, "fake-target")) == (legacy, target)
        # The legacy instance built for the refused reload is closed, never used.
        unused = [b for b in FakeBackend.built if b.options.mode == "fast"]
        assert len(unused) == 1
        await wait_until(lambda: unused[0].closed)
        assert not legacy.closed
        assert not target.closed

    async def test_backend_the_new_flags_no_longer_load_is_dropped(
        self, fake_engine: tuple[Engine, Path]
    ) -> None:
        """Killing legacy by reload retires its instance without a successor; asking for
        it afterwards is refused as in a process started on the new flags."""
        engine, path = fake_engine
        legacy = inner(engine, "fake-legacy")
        write_flags(path, fakes(stage="live", legacy_allowed="false"), bump=1)
        assert engine.environment_flags.legacy_allowed is False
        await wait_until(lambda: legacy.closed)
        with pytest.raises(ConfigurationError, match="legacy_allowed = false"):
            engine.backend("fake-legacy")

    async def test_reload_without_this_environment_is_refused(
        self, fake_engine: tuple[Engine, Path]
    ) -> None:
        """A new file that drops the process's environment keeps the last good one."""
        engine, path = fake_engine
        path.write_text(
            'schema_version = 1\n[environments.other]\nstage = "off"\n'
            'legacy_backend = "fake-legacy"\ntarget_backend = "fake-target"\n'
        )
        os.utime(path, (1_000_009, 1_000_009))
        with capture_logs() as logs:
            assert engine.environment_flags.stage == "shadow"
        assert "no environment 'prod'" in logs[0]["error"]


def fake_registry() -> BackendRegistry:
    FakeBackend.built.clear()
    registry = BackendRegistry()
    registry.add(FakeBackend)
    registry.add(FakeTarget)
    return registry


class TestThroughClient:
    async def test_a_client_on_a_flag_file_rebuilds_a_backend_whose_options_change(
        self, tmp_path: Path
    ) -> None:
        """A `Client` given a flag file's path applies an options edit on reload: new
        executions get a new instance with the new options, the old one is closed."""
        path = tmp_path / "flags.toml"
        write_flags(path, fakes(), bump=0)
        async with turnout.Client(path, ENV, registry=fake_registry(), check_interval=0) as client:
            before = inner(client.engine, "fake-target")
            write_flags(path, fakes(target_mode="fast"), bump=1)
            envelope = await client.execute({"language": "python", "code": "return 1"}, {})
            after = inner(client.engine, "fake-target")
            assert (envelope.metadata.backend, after.options.mode) == ("fake-legacy", "fast")
            assert after is not before
            await wait_until(lambda: before.closed)

    async def test_a_client_reload_with_a_misspelt_option_keeps_the_last_good_flags(
        self, tmp_path: Path
    ) -> None:
        """A typo in an options table edited under a running `Client` is refused at the
        file's line with a suggestion, and the instance and flags in force stay."""
        path = tmp_path / "flags.toml"
        write_flags(path, fakes(), bump=0)
        async with turnout.Client(path, ENV, registry=fake_registry(), check_interval=0) as client:
            before = inner(client.engine, "fake-target")
            write_flags(path, fakes(stage="live").replace('mode = "normal"', 'mdoe = "x"'), bump=1)
            with capture_logs() as logs:
                assert client.flags.environment(ENV).stage == "shadow"
            [failed] = [e for e in logs if e["event"] == "flags_reload_failed"]
            assert (
                f"{path}:8: environments.prod.backends.fake-legacy.mdoe: unknown key"
                in (failed["error"])
            )
            assert "did you mean 'mode'?" in failed["error"]
            assert inner(client.engine, "fake-target") is before

    async def test_a_one_shot_process_stays_one_shot_across_reloads(self, tmp_path: Path) -> None:
        """With keep_warm=False, a reload that changes no option keeps the instance, and
        one that does builds the new instance with keep_warm=False too."""
        path = tmp_path / "flags.toml"
        write_flags(path, fakes(), bump=0)
        engine = Engine(
            ENV, flags_path=path, registry=fake_registry(), check_interval=0, keep_warm=False
        )
        try:
            before = engine.backend("fake-target")
            write_flags(path, fakes(stage="off"), bump=1)
            assert engine.environment_flags.stage == "off"
            assert engine.backend("fake-target") is before
            write_flags(path, fakes(stage="off", target_mode="fast"), bump=2)
            after: Any = engine.backend("fake-target")
            assert after is not before
            assert (after.inner.options.mode, after.settings.keep_warm) == ("fast", False)
        finally:
            await engine.aclose()
