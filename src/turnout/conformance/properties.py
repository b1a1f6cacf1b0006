"""Property checks over generated data, run through the conformance runner on any backend.

Each property is a plain function taking a `NodeRunner` (config, context -> Observation)
and one generated value, so the same checks run on every backend, from the pytest suite
(`turnout.conformance.suite`) or from a backend author's own Hypothesis tests. Strategies
aim at the edges: escapes, lone surrogates, NUL, deep nesting, big numbers. JavaScript
numbers are doubles, so for JavaScript integers stay within 2**53 - 1 and floats within a
magnitude a double prints back as typed (docs/contract.md, "Inputs").

Hypothesis is imported lazily: it is a test dependency, not one of turnout's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from turnout.conformance.expectations import Observation
from turnout.json_diff import first_difference
from turnout.normalization import one_number_type as as_javascript_sees_it

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "SAFE_INTEGER",
    "NodeRunner",
    "as_javascript_sees_it",
    "check_context_round_trip",
    "check_printed_text",
    "check_returned_value",
    "json_contexts",
    "json_values",
    "printable_text",
]

NodeRunner = Callable[[Mapping[str, Any], Mapping[str, Any]], Observation]
SAFE_INTEGER = 2**53 - 1
# A double of 1e16 or more prints as an integer, so it cannot come back as a float.
SAFE_FLOAT_MAGNITUDE = 10**15
RETURN_INPUTS = {"python": "return inputs", "javascript": "return inputs"}
RETURN_VALUE = {"python": "return value", "javascript": "return value"}
WRITE_TEXT = {
    "python": "import sys\nsys.stdout.write(inputs['t'])",
    "javascript": "process.stdout.write(inputs.t);",
}


def json_values(language: str) -> SearchStrategy[Any]:
    """Arbitrary JSON values that `language` represents exactly."""
    from hypothesis import strategies as st

    bound = SAFE_FLOAT_MAGNITUDE if language == "javascript" else None
    integer_bound = SAFE_INTEGER if language == "javascript" else None
    text = st.text(alphabet=st.characters(codec=None), max_size=40)
    integers = st.integers(
        min_value=-integer_bound if integer_bound else None, max_value=integer_bound
    )
    floats = st.floats(
        allow_nan=False,
        allow_infinity=False,
        min_value=-bound if bound else None,
        max_value=bound,
    )
    scalars = st.none() | st.booleans() | integers | floats | text
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4)
        ),
        max_leaves=25,
    )


def json_contexts(language: str) -> SearchStrategy[dict[str, Any]]:
    """Arbitrary JSON objects usable as a workflow context."""
    from hypothesis import strategies as st

    keys = st.text(alphabet=st.characters(codec=None), max_size=20)
    return st.dictionaries(keys, json_values(language), max_size=4)


def printable_text() -> SearchStrategy[str]:
    """Text that can be written as UTF-8 (no lone surrogates)."""
    from hypothesis import strategies as st

    return st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200)


def _expected(language: str, value: Any) -> Any:
    return as_javascript_sees_it(value) if language == "javascript" else value


def _ok(observation: Observation) -> Mapping[str, Any]:
    if observation.error is not None:
        raise AssertionError(f"expected success, got {observation.error.summary()}")
    return observation.envelope or {}


def check_context_round_trip(run: NodeRunner, language: str, context: dict[str, Any]) -> None:
    """`return inputs` gives back exactly the context that went in."""
    envelope = _ok(run({"language": language, "code": RETURN_INPUTS[language]}, context))
    difference = first_difference(_expected(language, context), envelope.get("output"))
    if difference:
        raise AssertionError(difference)


def check_printed_text(run: NodeRunner, language: str, text: str) -> None:
    """Text written to stdout comes back as the envelope's stdout, unchanged."""
    envelope = _ok(run({"language": language, "code": WRITE_TEXT[language]}, {"t": text}))
    difference = first_difference(text, envelope.get("stdout"), "stdout")
    if difference:
        raise AssertionError(difference)


def check_returned_value(run: NodeRunner, language: str, value: Any) -> None:
    """A JSON value returned by the code is the output, exactly."""
    envelope = _ok(run({"language": language, "code": RETURN_VALUE[language]}, {"value": value}))
    difference = first_difference(_expected(language, value), envelope.get("output"))
    if difference:
        raise AssertionError(difference)
