"""Tests for turnout.flags.reload: hot reload that survives a broken edit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from turnout.errors import ConfigurationError
from turnout.flags import FlagEvaluator, FlagReloader
from turnout.flags import reload as reload_module
from turnout.logging import capture_logs
from turnout.registry import default_registry

from .support import ENV, KNOWN, document


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, body: str, *, bump: int) -> None:
    """Write an environment and set the file's mtime `bump` seconds later than before."""
    path.write_text(document(body), encoding="utf-8")
    os.utime(path, (1_000_000 + bump, 1_000_000 + bump))


@pytest.fixture
def flags_path(tmp_path: Path) -> Path:
    """A valid flag file whose environment is at stage off."""
    path = tmp_path / "flags.toml"
    write(path, 'stage = "off"', bump=0)
    return path


def stage(reloader: FlagReloader) -> str:
    """The stage the reloader's current configuration gives the environment."""
    return reloader.current().environment(ENV).stage


class TestFlagReloader:
    def test_initial_load(self, flags_path: Path) -> None:
        """The constructor loads the file and records its path as the source."""
        reloader = FlagReloader(flags_path, check_interval=0)
        assert stage(reloader) == "off"
        assert reloader.current().source == str(flags_path)

    def test_broken_file_at_start_raises(self, tmp_path: Path) -> None:
        """A process never starts on a broken file."""
        path = tmp_path / "flags.toml"
        path.write_text(document('stage = "of"'), encoding="utf-8")
        with pytest.raises(ConfigurationError, match="is not a stage"):
            FlagReloader(path)

    def test_picks_up_change(self, flags_path: Path) -> None:
        """A valid edit applies at the next check and is logged."""
        reloader = FlagReloader(flags_path, check_interval=0)
        write(flags_path, 'stage = "shadow"', bump=1)
        with capture_logs() as logs:
            assert stage(reloader) == "shadow"
        assert [entry["event"] for entry in logs] == ["flags_reloaded"]

    def test_same_size_edit_detected_by_mtime(self, flags_path: Path) -> None:
        """An edit that keeps the size is still seen through the mtime."""
        write(flags_path, 'stage = "off" #', bump=0)
        size = flags_path.stat().st_size
        reloader = FlagReloader(flags_path, check_interval=0)
        write(flags_path, 'stage = "live"#', bump=1)
        assert flags_path.stat().st_size == size
        assert stage(reloader) == "live"

    def test_broken_edit_keeps_last_good(self, flags_path: Path) -> None:
        """An invalid edit leaves the last good configuration and logs one error with why."""
        reloader = FlagReloader(flags_path, check_interval=0)
        write(flags_path, 'stage = "lve"', bump=1)
        with capture_logs() as logs:
            assert stage(reloader) == "off"
            assert stage(reloader) == "off"
        assert len(logs) == 1
        assert logs[0]["event"] == "flags_reload_failed"
        assert logs[0]["log_level"] == "error"
        assert "environments.prod.stage: 'lve' is not a stage" in logs[0]["error"]

    def test_recovers_after_fix(self, flags_path: Path) -> None:
        """Fixing a broken edit applies the fixed file."""
        reloader = FlagReloader(flags_path, check_interval=0)
        write(flags_path, 'stage = "lve"', bump=1)
        assert stage(reloader) == "off"
        write(flags_path, 'stage = "live"', bump=2)
        assert stage(reloader) == "live"

    def test_missing_file_keeps_last_good(self, flags_path: Path) -> None:
        """A deleted file keeps the configuration and logs that the file is gone."""
        reloader = FlagReloader(flags_path, check_interval=0)
        flags_path.unlink()
        with capture_logs() as logs:
            assert stage(reloader) == "off"
        assert "the flag file is gone" in logs[0]["error"]

    def test_checks_at_most_every_interval(self, flags_path: Path) -> None:
        """Between checks the file is not looked at; after the interval it is."""
        clock = Clock()
        reloader = FlagReloader(flags_path, check_interval=5, clock=clock)
        write(flags_path, 'stage = "live"', bump=1)
        clock.now = 4.9
        assert stage(reloader) == "off"
        clock.now = 5.0
        assert stage(reloader) == "live"

    def test_unexpected_failure_never_raises(
        self, flags_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Even an unexpected exception while reloading keeps the last good configuration."""

        def explode(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("disk on fire")

        reloader = FlagReloader(flags_path, check_interval=0)
        monkeypatch.setattr(reload_module, "load_flags", explode)
        write(flags_path, 'stage = "live"', bump=1)
        with capture_logs() as logs:
            assert stage(reloader) == "off"
        assert "disk on fire" in logs[0]["error"]

    def test_known_backends_apply_to_reloads(self, flags_path: Path) -> None:
        """A reloaded file naming an unknown backend is refused like the first one."""
        reloader = FlagReloader(flags_path, check_interval=0, known_backends=KNOWN)
        write(flags_path, 'stage = "live"\ntarget_backend = "e3b"', bump=1)
        assert stage(reloader) == "off"

    def test_option_typo_in_a_reload_keeps_last_good(self, flags_path: Path) -> None:
        """A reloaded file with a misspelt backend option is refused at its line, with a
        suggestion, and the configuration in force stays."""
        models = default_registry().option_models
        reloader = FlagReloader(flags_path, check_interval=0, option_models=models)
        write(flags_path, 'stage = "live"\n[environments.prod.backends.e2b]\npool_sise = 4', bump=1)
        with capture_logs() as logs:
            assert stage(reloader) == "off"
        [event] = logs
        assert event["event"] == "flags_reload_failed"
        assert (
            f"{flags_path}:5: environments.prod.backends.e2b.pool_sise: unknown key"
            in (event["error"])
        )
        assert "did you mean 'pool_size'?" in event["error"]

    def test_check_now_reports_change(self, flags_path: Path) -> None:
        """check_now says whether a new configuration was applied."""
        reloader = FlagReloader(flags_path, check_interval=3600)
        assert reloader.check_now() is False
        write(flags_path, 'stage = "live"', bump=1)
        assert reloader.check_now() is True

    def test_evaluator_follows_reloads(self, flags_path: Path) -> None:
        """An evaluator over a reloader decides with the newest good configuration."""
        evaluator = FlagEvaluator(FlagReloader(flags_path, check_interval=0))
        assert evaluator.decide(ENV).authoritative == "local-subprocess"
        write(flags_path, 'stage = "complete"', bump=1)
        assert evaluator.decide(ENV).authoritative == "e2b"

    def test_a_reloader_applies_its_reloads_for_one_owner(self, flags_path: Path) -> None:
        """attach() makes the owner's hook part of every reload; a second owner is
        refused, since two owners could apply half of a reload."""
        seen: list[str] = []
        reloader = FlagReloader(flags_path, check_interval=0)
        reloader.attach(lambda flags: seen.append(flags.environment(ENV).stage))
        write(flags_path, 'stage = "live"', bump=1)
        assert stage(reloader) == "live"
        assert seen == ["live"]
        with pytest.raises(ValueError, match="already applies its reloads"):
            reloader.attach(lambda flags: None)
