"""Turn a validated node and its inputs into the `ExecutionRequest` every backend runs.

The program is the language's runtime (a fixed text shipped beside this module) plus one
launcher line. The payload (user code and inputs) is JSON, base64-encoded inside the
launcher when small, or written as a file next to the code when large, so no user byte is
ever spliced into source text and large inputs never pass through a command line or a
notebook cell.
"""

from __future__ import annotations

import base64
import functools
import json
from importlib import resources
from typing import Any

from turnout.contract.javascript import prepare_body
from turnout.contract.values import encode_json
from turnout.models import CodeNodeConfig, ExecutionRequest, Language

__all__ = [
    "INLINE_PAYLOAD_LIMIT",
    "INPUT_PATH",
    "RESULT_PATH",
    "payload_size",
    "prepare_request",
]

RESULT_PATH = ".turnout/result.json"
INPUT_PATH = ".turnout/input.json"
INLINE_PAYLOAD_LIMIT = 256 * 1024
_RUNTIME_FILES: dict[Language, str] = {
    "python": "python_runtime.py",
    "javascript": "js_runtime.js",
}


@functools.cache
def runtime_source(language: Language) -> str:
    """The runtime text for `language`, read once per process."""
    package = resources.files("turnout.contract") / "runtime" / _RUNTIME_FILES[language]
    return package.read_text(encoding="utf-8")


def payload_size(request: ExecutionRequest) -> int:
    """Bytes of user code and inputs a request carries (inline or as a file), for logs."""
    if INPUT_PATH in request.files:
        return len(request.files[INPUT_PATH])
    return len(request.program) - len(runtime_source(request.language))


def prepare_request(
    config: CodeNodeConfig,
    inputs: dict[str, Any],
    *,
    execution_id: str,
    max_result_bytes: int,
    labels: dict[str, str] | None = None,
) -> ExecutionRequest:
    """Build the request for one execution of `config` with the selected `inputs`."""
    payload: dict[str, Any] = {"inputs": inputs, "resultPath": RESULT_PATH}
    if config.language == "python":
        payload["code"] = config.code
    else:
        payload["body"] = prepare_body(config.code)
    data = encode_json(payload)
    files: dict[str, bytes] = {}
    inline: str | None = None
    payload_path: str | None = None
    if len(data) <= INLINE_PAYLOAD_LIMIT:
        inline = base64.b64encode(data).decode("ascii")
    else:
        files[INPUT_PATH] = data
        payload_path = INPUT_PATH
    arguments = f"{json.dumps(inline)}, {json.dumps(payload_path)}"
    if config.language == "python":
        launcher = f"\n__turnout_run({arguments.replace('null', 'None')})\n"
    else:
        launcher = f"\n__turnout_run({arguments});\n"
    return ExecutionRequest(
        execution_id=execution_id,
        language=config.language,
        program=runtime_source(config.language) + launcher,
        files=files,
        result_path=RESULT_PATH,
        timeout_ms=config.timeout,
        max_result_bytes=max_result_bytes,
        labels=labels or {},
    )
