"""Properties of the contract over generated data, on the local-subprocess backend.

Each example starts a real interpreter, so example counts are bounded to keep CI fast;
the strategies aim at the edges (escapes, surrogates, NUL, deep nesting, big numbers).
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turnout import execute_code_node_sync

BACKEND = "local-subprocess"
PROPERTY_SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# JavaScript numbers are doubles: integers beyond 2**53 are not exact (docs/contract.md).
SAFE_INTEGER = 2**53 - 1

text = st.text(alphabet=st.characters(codec=None), max_size=40)
printable_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200)


def json_values(max_magnitude: int | None) -> st.SearchStrategy[Any]:
    """JSON values; with `max_magnitude`, numbers a JavaScript double holds exactly as typed
    (a double of 1e16 or more prints as an integer, so it cannot come back as a float)."""
    bound = None if max_magnitude is None else -max_magnitude
    integers = st.integers(min_value=bound, max_value=max_magnitude)
    floats = st.floats(
        allow_nan=False, allow_infinity=False, min_value=bound, max_value=max_magnitude
    )
    scalars = st.none() | st.booleans() | integers | text | floats
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4)
        ),
        max_leaves=25,
    )


def run(language: str, code: str, context: dict[str, Any]) -> dict[str, Any]:
    return execute_code_node_sync({"language": language, "code": code}, context, backend=BACKEND)


class TestRoundTrip:
    @PROPERTY_SETTINGS
    @given(st.dictionaries(text, json_values(None), max_size=4))
    def test_python_any_json_context_comes_back_exactly(self, context: dict[str, Any]) -> None:
        """Whatever JSON context goes in, Python can return it unchanged."""
        assert run("python", "return inputs", context)["output"] == context

    @PROPERTY_SETTINGS
    @given(st.dictionaries(text, json_values(SAFE_INTEGER), max_size=4))
    def test_javascript_any_json_context_comes_back_exactly(self, context: dict[str, Any]) -> None:
        """Whatever JSON context goes in (safe integers), JavaScript can return it unchanged."""
        assert run("javascript", "return inputs", context)["output"] == context

    @PROPERTY_SETTINGS
    @given(json_values(SAFE_INTEGER))
    def test_a_returned_value_equals_the_given_one_in_both_languages(self, value: Any) -> None:
        """The same JSON value returned from either language decodes to the same output."""
        python = run("python", "return value", {"value": value})["output"]
        javascript = run("javascript", "return value", {"value": value})["output"]
        assert python == javascript == value


class TestPrintedText:
    @PROPERTY_SETTINGS
    @given(printable_text)
    def test_python_printed_text_comes_back_exactly(self, printed: str) -> None:
        """Any text Python writes to stdout is the envelope's stdout, unchanged."""
        code = "import sys\nsys.stdout.write(inputs['t'])"
        assert run("python", code, {"t": printed})["stdout"] == printed

    @PROPERTY_SETTINGS
    @given(printable_text)
    def test_javascript_printed_text_comes_back_exactly(self, printed: str) -> None:
        """Any text JavaScript writes to stdout is the envelope's stdout, unchanged."""
        code = "process.stdout.write(inputs.t)"
        assert run("javascript", code, {"t": printed})["stdout"] == printed
