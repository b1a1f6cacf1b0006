"""Unit tests of the server's pure parts: paths, settings, faults, results, list filters."""

from __future__ import annotations

from pathlib import Path

import pytest
from turnout_e2b.server import pool as pool_module
from turnout_e2b.server.config import ServerConfig
from turnout_e2b.server.contexts import kernel_language, normalize_language
from turnout_e2b.server.control import _metadata_filter
from turnout_e2b.server.errors import ApiError
from turnout_e2b.server.faults import Fault, FaultQueue
from turnout_e2b.server.kernels.python import result_event, strip_quotes
from turnout_e2b.server.paths import host_path, sandbox_path
from turnout_e2b.server.pool import KernelUnavailableError
from turnout_e2b.server.streaming import encode_line


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
        assert config.pool_sizes == {"python": 2, "javascript": 0}

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
        monkeypatch.setattr(pool_module, "JAVASCRIPT_MODULE", "turnout_e2b.server.kernels.nope")
        with pytest.raises(KernelUnavailableError, match="not available"):
            await pool_module._start_javascript_kernel(
                "javascript", neutral_cwd=tmp_path, base_env={}
            )
