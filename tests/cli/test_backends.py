"""`turnout backends`: what is registered, whether it loads here, and its capabilities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from turnout.cli import main

FLAGS_WITHOUT_LEGACY = """
schema_version = 1
[environments.locked]
stage = "complete"
legacy_allowed = false
"""


class TestBackendsCommand:
    def test_json_lists_every_registered_backend_with_capabilities(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--json lists local-subprocess as deprecated and available, with its languages."""
        assert main(["backends", "--json", "--env", "test"]) == 0
        listing = json.loads(capsys.readouterr().out)
        by_id = {backend["id"]: backend for backend in listing["backends"]}
        legacy = by_id["local-subprocess"]
        assert (legacy["deprecated"], legacy["available"]) == (True, True)
        assert legacy["capabilities"]["languages"] == ["javascript", "python"]

    def test_packages_are_counted_for_a_human_and_listed_in_json(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The human listing counts each language's modules on one line; --json lists them."""
        assert main(["backends", "--env", "test"]) == 0
        lines = [line for line in capsys.readouterr().out.splitlines() if "packages:" in line]
        assert lines
        assert all(line.endswith("modules (--json lists them)") for line in lines)
        assert main(["backends", "--json", "--env", "test"]) == 0
        listing = json.loads(capsys.readouterr().out)
        legacy = {b["id"]: b for b in listing["backends"]}["local-subprocess"]
        assert "json" in legacy["capabilities"]["packages"]["python"]

    def test_e2b_declares_what_its_endpoint_does(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a key the e2b backend runs on the local server, and says so: its
        endpoint, namespace isolation, no memory limit, no TypeScript."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        monkeypatch.delenv("E2B_API_URL", raising=False)
        assert main(["backends", "--json", "--env", "test"]) == 0
        listing = json.loads(capsys.readouterr().out)
        [e2b] = [backend for backend in listing["backends"] if backend["id"] == "e2b"]
        assert "local E2B-compatible server" in e2b["endpoint"]
        capabilities = e2b["capabilities"]
        assert (capabilities["isolation"], capabilities["memory_enforcement"]) == (
            "namespace",
            "none",
        )
        assert capabilities["supports_typescript"] is False

    def test_text_shows_the_endpoint(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The text listing names where each backend's calls go."""
        monkeypatch.delenv("E2B_API_KEY", raising=False)
        monkeypatch.delenv("E2B_API_URL", raising=False)
        assert main(["backends", "--env", "test"]) == 0
        out = capsys.readouterr().out
        assert "  endpoint: local E2B-compatible server" in out
        assert "  supports_typescript: False" in out

    def test_disabled_legacy_is_listed_as_unavailable_with_the_reason(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Where legacy_allowed is false, the legacy backend shows why it cannot load."""
        flags = tmp_path / "flags.toml"
        flags.write_text(FLAGS_WITHOUT_LEGACY)
        monkeypatch.setenv("TURNOUT_FLAGS_FILE", str(flags))
        assert main(["backends", "--json", "--env", "locked"]) == 0
        by_id = {b["id"]: b for b in json.loads(capsys.readouterr().out)["backends"]}
        assert by_id["local-subprocess"]["available"] is False
        assert "legacy_allowed" in by_id["local-subprocess"]["unavailable_reason"]

    def test_unknown_environment_is_a_configuration_error(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An environment the flag file does not define exits 1 naming the defined ones."""
        assert main(["backends", "--json", "--env", "nowhere"]) == 1
        message = json.loads(capsys.readouterr().out)["error"]["message"]
        assert "production" in message
