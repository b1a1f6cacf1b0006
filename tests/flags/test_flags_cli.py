"""Tests for `turnout flags validate|show|explain` (turnout.cli.flags)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.cli import flags as flags_command
from turnout.flags import bucket

from ..plugin_site import PluginSite, breakage, process_site
from .support import document

REPOSITORY_FLAGS = Path(__file__).resolve().parents[2] / "feature_flags.toml"
MISSPELT_OPTIONS = (
    'stage = "off"\n[environments.prod.backends.e2b]\npool_sise = 4\n'
    "[environments.prod.backends.local-subprocess]\nmemroy_mb = 512"
)


def run(*argv: str) -> int:
    """Run `turnout flags ...` through a parser holding only this command."""
    parser = argparse.ArgumentParser(prog="turnout")
    flags_command.register(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(["flags", *argv])
    status: int = arguments.handler(arguments)
    return status


@pytest.fixture
def rollout_file(tmp_path: Path) -> Path:
    """A file whose `prod` environment splits 10% live, 90% shadow, with one override."""
    path = tmp_path / "flags.toml"
    path.write_text(
        document(
            'stage = "shadow"\nrollout = { live = 10 }\n'
            'overrides = { tenants = { acme = "complete" } }'
        ),
        encoding="utf-8",
    )
    return path


class TestValidate:
    def test_shipped_file(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The shipped file validates: exit 0 and one summary line per environment."""
        assert run("validate", str(REPOSITORY_FLAGS)) == 0
        out = capsys.readouterr().out
        assert "valid (schema version 1, 4 environments)" in out
        assert "staging      stage shadow; local-subprocess -> e2b; shadow sample 100%" in out

    def test_backend_that_cannot_be_built_is_a_warning(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The shipped staging environment shadows on e2b; without a key here, validate
        still exits 0 but warns under staging, and --json lists the warning."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        monkeypatch.delenv("E2B_API_URL", raising=False)
        assert run("validate", str(REPOSITORY_FLAGS)) == 0
        out = capsys.readouterr().out.splitlines()
        staging = out.index(next(line for line in out if line.startswith("  staging ")))
        assert out[staging + 1].strip().startswith("warning: backend 'e2b' cannot be built here")
        assert run("validate", str(REPOSITORY_FLAGS), "--json") == 0
        environments = json.loads(capsys.readouterr().out)["environments"]
        assert len(environments["staging"]["warnings"]) == 1
        assert environments["production"]["warnings"] == []

    def test_full_rollout_to_another_stage_is_shown(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A rollout giving 100% to a stage other than the default is visible in the summary."""
        path = tmp_path / "flags.toml"
        path.write_text(document('stage = "shadow"\nrollout = { live = 100 }'), encoding="utf-8")
        assert run("validate", str(path)) == 0
        assert "rollout live 100%" in capsys.readouterr().out

    def test_every_problem_listed(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An invalid file exits 1 and lists each problem with its line."""
        path = tmp_path / "flags.toml"
        path.write_text(document('stage = "of"\ntarget_backend = "e3b"'), encoding="utf-8")
        assert run("validate", str(path)) == 1
        err = capsys.readouterr().err.splitlines()
        assert err[0] == "invalid: 2 problems"
        assert err[1].startswith(f"  {path}:3: environments.prod.stage: 'of' is not a stage")
        assert err[2] == (
            f"  {path}:4: environments.prod.target_backend: unknown backend id 'e3b' "
            "(known: e2b, local-subprocess)"
        )

    def test_json_problems(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--json prints the error with a list of problems."""
        path = tmp_path / "flags.toml"
        path.write_text(document('stage = "of"'), encoding="utf-8")
        assert run("validate", str(path), "--json") == 1
        error = json.loads(capsys.readouterr().out)["error"]
        assert error["type"] == "FlagFileError"
        assert len(error["problems"]) == 1

    def test_missing_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing file exits 1 naming it."""
        assert run("validate", str(tmp_path / "absent.toml")) == 1
        assert "absent.toml" in capsys.readouterr().err

    def test_notes_shown(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A killed legacy backend is valid but noted."""
        path = tmp_path / "flags.toml"
        path.write_text(document('stage = "off"\nlegacy_allowed = false'), encoding="utf-8")
        assert run("validate", str(path)) == 0
        assert "note: legacy killed" in capsys.readouterr().out

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            (
                'stage = "off"\noverrides = { tenants = { internal = "live" } }',
                "every execution is at stage off (local-subprocess) except overrides: "
                "tenant 'internal' at live (answered by e2b)",
            ),
            (
                'stage = "complete"\noverrides = { workflows = { billing = "off" } }',
                "workflow 'billing' at off (answered by local-subprocess); legacy stays "
                "loadable while they remain",
            ),
            (
                'stage = "shadow"\nrollout = { rampdown = 100 }\n'
                'overrides = { tenants = { late = "shadow" } }',
                "every execution is at stage rampdown (e2b) except overrides: tenant 'late' "
                "at shadow (answered by local-subprocess)",
            ),
        ],
        ids=["rollback", "complete", "rampdown"],
    )
    def test_overrides_that_keep_executions_elsewhere_are_warned(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, expected: str
    ) -> None:
        """A rollback, a rampdown or a completion that an override still escapes is valid
        and warned about, naming the override and the backend it runs on."""
        path = tmp_path / "flags.toml"
        path.write_text(document(body), encoding="utf-8")
        assert run("validate", str(path)) == 0
        out = capsys.readouterr().out.splitlines()
        [warning] = [line for line in out if "warning:" in line and "except overrides" in line]
        assert expected in warning

    def test_a_split_rollout_with_overrides_is_not_warned(
        self, rollout_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Overrides inside a split rollout (the runbook's own example) are not warned."""
        assert run("validate", str(rollout_file), "--json") == 0
        warnings = json.loads(capsys.readouterr().out)["environments"]["prod"]["warnings"]
        assert [warning for warning in warnings if "overrides" in warning] == []

    def test_a_rollout_that_skips_shadow_is_warned(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`rollout = { live = 10, shadow = 90 }` under `stage = "off"` is warned: the
        live tenants never went through shadow."""
        path = tmp_path / "flags.toml"
        path.write_text(document('stage = "off"\nrollout = { live = 10, shadow = 90 }'))
        assert run("validate", str(path)) == 0
        assert "straight to live 10%: they skip shadow" in capsys.readouterr().out

    def test_misspelt_backend_options_are_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Typos in backend options fail validation, each located with a suggestion."""
        path = tmp_path / "flags.toml"
        path.write_text(document(MISSPELT_OPTIONS), encoding="utf-8")
        assert run("validate", str(path)) == 1
        assert capsys.readouterr().err.splitlines() == [
            "invalid: 2 problems",
            f"  {path}:5: environments.prod.backends.e2b.pool_sise: unknown key "
            "(did you mean 'pool_size'?)",
            f"  {path}:7: environments.prod.backends.local-subprocess.memroy_mb: unknown key "
            "(did you mean 'memory_mb'?)",
        ]


class TestShow:
    def test_text(self, rollout_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """show prints every key with defaults filled in, and the bucket ranges."""
        assert run("show", "--env", "prod", "--file", str(rollout_file)) == 0
        out = capsys.readouterr().out
        assert 'stage = "shadow"' in out
        assert 'rollout_group = "turnout.prod"' in out
        assert "(buckets: live 1-10, shadow 11-100)" in out

    def test_json(self, rollout_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """show --json gives the settings and what follows from them."""
        assert run("show", "--env", "prod", "--file", str(rollout_file), "--json") == 0
        shown = json.loads(capsys.readouterr().out)
        assert shown["settings"]["rollout"] == {"live": 10}
        assert shown["stage_ranges"][0] == {"stage": "live", "from": 1, "to": 10, "percent": 10}
        assert shown["reachable_stages"] == ["shadow", "live", "complete"]

    def test_complete_with_an_override_says_why_legacy_may_load(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """At `complete` with an override left, show warns why legacy may still load."""
        path = tmp_path / "flags.toml"
        path.write_text(
            document('stage = "complete"\noverrides = { tenants = { t = "live" } }'),
            encoding="utf-8",
        )
        assert run("show", "--env", "prod", "--flags", str(path)) == 0
        out = capsys.readouterr().out
        assert "legacy may load: yes" in out
        assert "warning: every execution is at stage complete (e2b) except overrides" in out

    def test_unknown_environment(
        self, rollout_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An environment the file does not define exits 1 naming the defined ones."""
        assert run("show", "--env", "qa", "--file", str(rollout_file)) == 1
        assert "defined: prod" in capsys.readouterr().err

    def test_misspelt_backend_options_are_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """show refuses a file whose backend options are misspelt, naming the option."""
        path = tmp_path / "flags.toml"
        path.write_text(document(MISSPELT_OPTIONS), encoding="utf-8")
        assert run("show", "--env", "prod", "--file", str(path)) == 1
        assert "backends.e2b.pool_sise: unknown key" in capsys.readouterr().err


class TestExplain:
    def test_override(self, rollout_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """explain --json reports a tenant override as the reason."""
        argv = ["explain", "--env", "prod", "--file", str(rollout_file), "--json"]
        assert run(*argv, "--key", "e-1", "--tenant", "acme") == 0
        explained = json.loads(capsys.readouterr().out)
        assert (explained["stage"], explained["authoritative_backend"]) == ("complete", "e2b")
        assert explained["decision_reason"] == "tenant override: complete"

    def test_rollout_text(self, rollout_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """explain prints the backends, the bucket and each reason on its own line."""
        argv = ["explain", "--env", "prod", "--file", str(rollout_file), "--key", "e-1"]
        assert run(*argv, "--tenant", "t-9", "--side-effect-free") == 0
        out = capsys.readouterr().out
        assert f"bucket         {bucket('t-9', 'turnout.prod')} (by tenant)" in out
        assert "  why:\n    rollout: tenant bucket" in out

    def test_key_required(self, rollout_file: Path) -> None:
        """explain without --key is a usage error (exit 2)."""
        with pytest.raises(SystemExit) as exited:
            run("explain", "--env", "prod", "--file", str(rollout_file))
        assert exited.value.code == 2

    def test_misspelt_backend_options_are_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """explain refuses a file whose backend options are misspelt, naming the option."""
        path = tmp_path / "flags.toml"
        path.write_text(document(MISSPELT_OPTIONS), encoding="utf-8")
        assert run("explain", "--env", "prod", "--file", str(path), "--key", "e-1") == 1
        assert "backends.local-subprocess.memroy_mb: unknown key" in capsys.readouterr().err


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """Throwaway plugins installed for real next to the real ones, seen by the CLI."""
    with process_site(tmp_path / "site", monkeypatch) as installed:
        yield installed


class TestBrokenPlugins:
    def test_validate_names_the_broken_plugin_of_a_backend(
        self, site: PluginSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A file targeting a backend whose plugin broke after registering it is invalid,
        with a problem naming the plugin, its distribution and its error."""
        [(name, source)] = breakage("hook raises").plugins.items()
        origin = site.install(name, source)
        path = tmp_path / "flags.toml"
        path.write_text(document('stage = "live"\ntarget_backend = "half"'), encoding="utf-8")
        assert run("validate", str(path)) == 1
        err = capsys.readouterr().err.splitlines()
        assert err[0] == "invalid: 1 problem"
        assert err[1].startswith(
            f"  {path}:4: environments.prod.target_backend: backend 'half' cannot be used "
            f"here: plugin 'raising' (distribution {origin} 0.1) failed in "
            "turnout_register_backends: RuntimeError: plugin setup failed"
        )

    def test_validate_names_a_plugin_that_broke_before_registering(
        self, site: PluginSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A backend id no plugin registers, while a plugin that never registered is broken:
        the problem names that plugin, not just "unknown backend"."""
        [(name, source)] = breakage("entry point does not import").plugins.items()
        origin = site.install(name, source)
        path = tmp_path / "flags.toml"
        path.write_text(document('stage = "live"\ntarget_backend = "tempdir"'), encoding="utf-8")
        assert run("validate", str(path)) == 1
        err = capsys.readouterr().err
        assert "backend 'tempdir' cannot be used here" in err
        assert f"plugin 'typo' (distribution {origin} 0.1) cannot be imported" in err

    def test_show_still_reads_the_file(
        self, site: PluginSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """show works on a file naming a broken plugin's backend, as the engine does."""
        [(name, source)] = breakage("hook raises").plugins.items()
        site.install(name, source)
        path = tmp_path / "flags.toml"
        path.write_text(document('stage = "live"\ntarget_backend = "half"'), encoding="utf-8")
        assert run("show", "--env", "prod", "--flags", str(path)) == 0
        assert 'target_backend = "half"' in capsys.readouterr().out
