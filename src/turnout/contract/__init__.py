"""The code-node contract: the same user code behaves the same on every backend.

`prepare_request` turns a node and its inputs into a program; `decode_result` turns what a
backend observed into an output or one classified error. The rules are in docs/contract.md.
"""

from turnout.contract.outcome import DecodedOutput, OutputChannel, decode_result
from turnout.contract.program import RESULT_PATH, payload_size, prepare_request, runtime_source
from turnout.contract.values import encode_json, select_inputs, validate_json_value

__all__ = [
    "RESULT_PATH",
    "DecodedOutput",
    "OutputChannel",
    "decode_result",
    "encode_json",
    "payload_size",
    "prepare_request",
    "runtime_source",
    "select_inputs",
    "validate_json_value",
]
