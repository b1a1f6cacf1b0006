"""Tests for turnout.contract.program: building the request every backend runs."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.contract.javascript import prepare_body
from turnout.contract.program import (
    INLINE_PAYLOAD_LIMIT,
    INPUT_PATH,
    RESULT_PATH,
    prepare_request,
    runtime_source,
)
from turnout.models import CodeNodeConfig, ExecutionRequest, parse_config

MARKER = 'TURNOUT_MARKER_"q\'uote"_línea\n2'
LAUNCHER = re.compile(
    r"\n__turnout_run\((?P<inline>\"[A-Za-z0-9+/=]*\"|None|null), "
    r"(?P<path>\"[^\"]*\"|None|null)\);?\n\Z"
)


def config(language: str = "python", code: str = "result = 1", **extra: Any) -> CodeNodeConfig:
    """A parsed node config for `language` and `code`."""
    return parse_config({"language": language, "code": code, **extra})


def prepare(
    node: CodeNodeConfig, inputs: dict[str, Any] | None = None, **kwargs: Any
) -> ExecutionRequest:
    """prepare_request with a fixed execution id and result limit unless overridden."""
    arguments: dict[str, Any] = {"execution_id": "exec-1", "max_result_bytes": 1000, **kwargs}
    return prepare_request(node, inputs if inputs is not None else {}, **arguments)


def launcher_arguments(request: ExecutionRequest) -> tuple[str, str]:
    """The two raw argument texts of the launcher line that ends the program."""
    match = LAUNCHER.search(request.program)
    assert match is not None, request.program[-300:]
    return match["inline"], match["path"]


def payload_of(request: ExecutionRequest) -> dict[str, Any]:
    """The payload the runtime will read, from the inline argument or the input file."""
    inline, _ = launcher_arguments(request)
    if inline.startswith('"'):
        data = base64.b64decode(json.loads(inline), validate=True)
    else:
        data = request.files[INPUT_PATH]
    decoded: dict[str, Any] = json.loads(data)
    return decoded


class TestPrepareRequestShape:
    @pytest.mark.parametrize("language", ["python", "javascript"])
    def test_program_starts_with_runtime(self, language: str) -> None:
        """The program is the language's runtime text followed by the launcher."""
        request = prepare(config(language, "1"))
        assert request.program.startswith(runtime_source(language))  # type: ignore[arg-type]

    @pytest.mark.parametrize("language", ["python", "javascript"])
    def test_one_launcher_line_appended(self, language: str) -> None:
        """Exactly one launcher line follows the runtime text."""
        request = prepare(config(language, "1"))
        tail = request.program[len(runtime_source(language)) :]  # type: ignore[arg-type]
        assert tail.count("\n") == 2
        assert tail.strip().startswith("__turnout_run(")

    def test_language_carried(self) -> None:
        """The request's language is the node's."""
        assert prepare(config("javascript", "1")).language == "javascript"

    def test_timeout_carried(self) -> None:
        """The node's timeout in milliseconds becomes the request's timeout."""
        assert prepare(config(timeout=4321)).timeout_ms == 4321

    def test_labels_carried(self) -> None:
        """Labels given are attached to the request."""
        request = prepare(config(), labels={"workflow": "wf-1", "node": "n-2"})
        assert request.labels == {"workflow": "wf-1", "node": "n-2"}

    def test_labels_default_empty(self) -> None:
        """Without labels, the request has none."""
        assert prepare(config()).labels == {}

    def test_identity_and_limits(self) -> None:
        """execution_id, max_result_bytes and the result path are set as given."""
        request = prepare(config(), execution_id="abc", max_result_bytes=77)
        assert request.execution_id == "abc"
        assert request.max_result_bytes == 77
        assert request.result_path == RESULT_PATH


class TestPrepareRequestPayload:
    @pytest.mark.parametrize("language", ["python", "javascript"])
    def test_small_payload_inline(self, language: str) -> None:
        """A small payload travels inline, so the request carries no files."""
        request = prepare(config(language, "1"), {"a": 1})
        assert request.files == {}
        inline, path = launcher_arguments(request)
        assert inline.startswith('"')
        assert path in ("None", "null")

    def test_python_payload_contents(self) -> None:
        """The python payload holds the code as written, the inputs and the result path."""
        request = prepare(config("python", MARKER), {"a": [1, "é"]})
        assert payload_of(request) == {
            "inputs": {"a": [1, "é"]},
            "resultPath": RESULT_PATH,
            "code": MARKER,
        }

    def test_javascript_payload_holds_prepared_body(self) -> None:
        """The javascript payload holds the body with its last expression captured."""
        code = "const a = 1;\na + 1"
        request = prepare(config("javascript", code), {"x": None})
        payload = payload_of(request)
        assert payload["body"] == prepare_body(code)
        assert "code" not in payload
        assert payload["inputs"] == {"x": None}

    @pytest.mark.parametrize("language", ["python", "javascript"])
    def test_code_never_verbatim_in_program(self, language: str) -> None:
        """The user's code text is encoded, never spliced into the program text."""
        code = "TURNOUT_DISTINCTIVE_MARKER_8f3a = 1"
        request = prepare(config(language, code), {"TURNOUT_INPUT_MARKER_c41e": "value_marker_77"})
        assert "TURNOUT_DISTINCTIVE_MARKER_8f3a" not in request.program
        assert "TURNOUT_INPUT_MARKER_c41e" not in request.program
        assert "value_marker_77" not in request.program

    @pytest.mark.parametrize("language", ["python", "javascript"])
    def test_large_payload_in_file(self, language: str) -> None:
        """A payload over INLINE_PAYLOAD_LIMIT is written to the input file, not inline."""
        inputs = {"big": "x" * (INLINE_PAYLOAD_LIMIT + 1)}
        request = prepare(config(language, "1"), inputs)
        assert set(request.files) == {INPUT_PATH}
        inline, path = launcher_arguments(request)
        assert inline in ("None", "null")
        assert json.loads(path) == INPUT_PATH
        assert payload_of(request)["inputs"] == inputs

    def test_large_payload_not_in_program(self) -> None:
        """A large payload is not copied into the program text as well."""
        request = prepare(config(), {"big": "y" * (INLINE_PAYLOAD_LIMIT + 1)})
        assert len(request.program) < INLINE_PAYLOAD_LIMIT

    def test_payload_file_is_ascii_json(self) -> None:
        """The input file is ASCII JSON, with non-ASCII text escaped."""
        inputs = {"big": "é" * INLINE_PAYLOAD_LIMIT}
        data = prepare(config(), inputs).files[INPUT_PATH]
        assert data.isascii()
        assert json.loads(data)["inputs"] == inputs

    def test_payload_at_limit_stays_inline(self) -> None:
        """A payload of exactly INLINE_PAYLOAD_LIMIT bytes is still inline."""
        overhead = len(
            json.dumps(
                {"inputs": {"s": ""}, "resultPath": RESULT_PATH, "code": "1"}, separators=(",", ":")
            )
        )
        inputs = {"s": "z" * (INLINE_PAYLOAD_LIMIT - overhead)}
        assert prepare(config(code="1"), inputs).files == {}


class TestLauncher:
    def test_python_uses_none(self) -> None:
        """The python launcher spells the absent argument None, with no JS null."""
        request = prepare(config("python"))
        launcher = request.program[len(runtime_source("python")) :]
        assert launcher.rstrip().endswith(", None)")
        assert "null" not in launcher

    def test_python_large_uses_none_for_inline(self) -> None:
        """With a file payload, the python launcher passes None inline."""
        request = prepare(config("python"), {"big": "x" * (INLINE_PAYLOAD_LIMIT + 1)})
        launcher = request.program[len(runtime_source("python")) :]
        assert launcher.strip() == f'__turnout_run(None, "{INPUT_PATH}")'

    def test_javascript_uses_null(self) -> None:
        """The javascript launcher spells the absent argument null and ends with a semicolon."""
        request = prepare(config("javascript", "1"))
        launcher = request.program[len(runtime_source("javascript")) :]
        assert launcher.rstrip().endswith(", null);")
        assert "None" not in launcher

    def test_javascript_large_uses_null_for_inline(self) -> None:
        """With a file payload, the javascript launcher passes null inline."""
        request = prepare(config("javascript", "1"), {"big": "x" * (INLINE_PAYLOAD_LIMIT + 1)})
        launcher = request.program[len(runtime_source("javascript")) :]
        assert launcher.strip() == f'__turnout_run(null, "{INPUT_PATH}");'

    @settings(max_examples=100, deadline=None)
    @given(
        # Code is source text: a raw lone surrogate is refused at validation (see test_models).
        code=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40),
        inputs=st.dictionaries(
            st.text(max_size=8), st.text(st.characters(codec=None), max_size=20)
        ),
    )
    def test_python_inline_argument_decodes_to_payload(
        self, code: str, inputs: dict[str, str]
    ) -> None:
        """For any code and inputs, the python launcher's argument decodes to exactly them."""
        payload = payload_of(prepare(config("python", code), inputs))
        assert payload["code"] == code
        assert payload["inputs"] == inputs


class TestRuntimeSource:
    @pytest.mark.parametrize("language", ["python", "javascript"])
    def test_defines_turnout_run(self, language: str) -> None:
        """Each runtime defines the __turnout_run entry point the launcher calls."""
        source = runtime_source(language)  # type: ignore[arg-type]
        assert re.search(r"^(def|function) __turnout_run\(", source, re.MULTILINE)

    def test_cached(self) -> None:
        """The runtime text is read once and reused."""
        assert runtime_source("python") is runtime_source("python")
