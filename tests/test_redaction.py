"""Tests for turnout.redaction: the one scrubber of logs, errors, envelopes and reports."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout import redaction
from turnout.redaction import (
    REDACTED,
    known_secrets,
    redact_url,
    register_secret,
    scrub_data,
    scrub_envelope,
    scrub_exception_chain,
    scrub_field,
    scrub_known,
    scrub_text,
    scrub_user_data,
)

TOKEN = uuid.uuid4().hex
HOST_KEY = f"HostKey{TOKEN}"  # no known shape: only its value identifies it
E2B_KEY = "e2b_" + "a1B2c3D4e5F6g7H8i9J0"


@pytest.fixture
def host_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """E2B_API_KEY set to a value with no recognisable shape."""
    monkeypatch.setenv("E2B_API_KEY", HOST_KEY)
    return HOST_KEY


class TestKnownSecrets:
    def test_e2b_api_key_is_known(self, host_key: str) -> None:
        """The value of E2B_API_KEY is a known secret whatever it looks like."""
        assert host_key in known_secrets()

    def test_e2b_access_token_is_known(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """E2B_ACCESS_TOKEN, the SDK's other credential, is known too."""
        monkeypatch.setenv("E2B_ACCESS_TOKEN", f"access{TOKEN}")
        assert f"access{TOKEN}" in known_secrets()

    def test_a_variable_named_like_a_secret_is_known(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Any environment variable whose name says secret, token, password... counts."""
        monkeypatch.setenv("WORKER_DATABASE_PASSWORD", f"dbpw{TOKEN}")
        assert f"dbpw{TOKEN}" in known_secrets()

    def test_the_userinfo_of_a_url_in_the_environment_is_known(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A proxy URL's credentials are known values, the whole userinfo and the password."""
        monkeypatch.setenv("HTTPS_PROXY", f"http://proxyuser:pw{TOKEN}@proxy.example:3128")
        assert {f"proxyuser:pw{TOKEN}", f"pw{TOKEN}"} <= set(known_secrets())

    def test_ordinary_variables_are_not_secrets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A variable with an ordinary name is not treated as a secret."""
        monkeypatch.setenv("TURNOUT_SOME_SETTING", f"plain{TOKEN}")
        assert f"plain{TOKEN}" not in known_secrets()

    def test_short_values_are_not_searched_for(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A secret shorter than MIN_SECRET_LENGTH would match by chance: it is left out."""
        monkeypatch.setenv("E2B_API_KEY", "abc")
        assert "abc" not in known_secrets()

    def test_a_variable_set_later_counts(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The environment is read at each call, not once at import."""
        known_secrets()
        monkeypatch.setenv("E2B_API_KEY", f"later{TOKEN}")
        assert f"later{TOKEN}" in known_secrets()

    def test_registered_values_are_known(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """register_secret adds a value that is in no environment variable."""
        monkeypatch.setattr(redaction, "_registered", frozenset())
        register_secret(f"generated{TOKEN}")
        assert f"generated{TOKEN}" in known_secrets()
        assert scrub_text(f"key generated{TOKEN}") == f"key {REDACTED}"


class TestScrubText:
    def test_known_value_is_replaced(self, host_key: str) -> None:
        """A known secret's exact value is replaced wherever it appears in text."""
        assert scrub_text(f"rejected key {host_key}!") == f"rejected key {REDACTED}!"

    def test_url_userinfo_is_replaced(self) -> None:
        """`http://user:pw@host` keeps its host and loses user and password."""
        assert scrub_text("to http://turnout:pw0123@127.0.0.1:1/v2 failed") == (
            f"to http://{REDACTED}@127.0.0.1:1/v2 failed"
        )

    def test_every_query_value_is_replaced(self) -> None:
        """Query keys stay (they say what was sent), values go (a token, a signature)."""
        assert redact_url("https://proxy.example/e2b?token=abc&sig=xyz#frag") == (
            f"https://proxy.example/e2b?token={REDACTED}&sig={REDACTED}#frag"
        )

    def test_a_plain_url_is_unchanged(self) -> None:
        """Without credentials there is nothing to replace."""
        assert scrub_text("https://api.e2b.app/v2") == "https://api.e2b.app/v2"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("api_key=hunter22", f"api_key={REDACTED}"),
            ("PASSWORD = 'a b c'", f"PASSWORD = '{REDACTED}'"),
            ('{"access_token": "abc def"}', f'{{"access_token": "{REDACTED}"}}'),
            ("{'client_secret': 'xyz'}", f"{{'client_secret': '{REDACTED}'}}"),
        ],
    )
    def test_a_value_after_a_secret_name_is_replaced(self, text: str, expected: str) -> None:
        """`name=value` and `"name": "value"` with a secret-looking name lose the value."""
        assert scrub_text(text) == expected

    def test_a_field_named_like_a_secret_in_a_message_is_kept(self) -> None:
        """A validation message about a field called `token` is not mistaken for a value."""
        text = "context.token: nesting is deeper than 64 levels"
        assert scrub_text(text) == text

    @pytest.mark.parametrize(
        "secret",
        [
            E2B_KEY,
            "sk-" + "proj_ABCdef123456789xyz",
            "Bearer " + "abcdefghijklmnopqrstuv",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl",
            "ghp_" + "A" * 36,
            "AKIA" + "ABCDEFGHIJKLMNOP",
        ],
    )
    def test_values_shaped_like_keys_are_replaced(self, secret: str) -> None:
        """E2B and OpenAI keys, bearer tokens, JWTs, GitHub and AWS keys go by shape."""
        assert scrub_text(f"got {secret} back") == f"got {REDACTED} back"

    @pytest.mark.parametrize("text", ["e2b_short", "sk-short", "the e2b backend", "risk-free"])
    def test_short_lookalikes_are_kept(self, text: str) -> None:
        """Text that only resembles a key's prefix is left alone."""
        assert scrub_text(text) == text


class TestScrubData:
    def test_secret_keys_lose_their_whole_value(self) -> None:
        """A secret-looking key's value is replaced whatever its type, at any depth."""
        data = {"options": {"api_key": {"nested": 1}, "Authorization": "Basic x"}, "n": 3}
        assert scrub_data(data) == {
            "options": {"api_key": REDACTED, "Authorization": REDACTED},
            "n": 3,
        }

    def test_strings_are_scrubbed_as_text(self) -> None:
        """A URL with credentials inside a list inside a mapping loses them."""
        assert scrub_data({"urls": ("http://u:pw@h/x",)}) == {"urls": [f"http://{REDACTED}@h/x"]}

    def test_user_data_keys_lose_only_known_values(self, host_key: str) -> None:
        """Under output/stdout/stderr/logs, URLs are kept and known secrets replaced."""
        data = {"stdout": f"see http://u:pw@h/?q=1 {host_key}\n", "message": "http://u:pw@h/"}
        assert scrub_data(data) == {
            "stdout": f"see http://u:pw@h/?q=1 {REDACTED}\n",
            "message": f"http://{REDACTED}@h/",
        }

    def test_the_input_is_not_changed(self) -> None:
        """The caller's data is copied, not scrubbed in place."""
        data = {"password": "hunter2"}
        scrub_data(data)
        assert data == {"password": "hunter2"}

    def test_an_object_with_a_secret_in_its_repr_is_rendered(self) -> None:
        """A non-JSON value whose repr holds a secret becomes its scrubbed repr."""
        assert E2B_KEY not in str(scrub_data({"error": ValueError(f"bad {E2B_KEY}")}))


class TestUserData:
    def test_known_values_are_replaced_in_keys_and_values(self, host_key: str) -> None:
        """A host secret is removed from the output's keys and strings at any depth."""
        output = {host_key: [f"x{host_key}x", 1, None]}
        assert scrub_user_data(output) == {REDACTED: [f"x{REDACTED}x", 1, None]}

    def test_data_without_a_known_value_is_returned_as_is(self, host_key: str) -> None:
        """Nothing replaced: the very same object comes back (and nothing else changes)."""
        output = {"url": "http://u:pw@h/?token=t", "token": E2B_KEY, "items": [1, 2.5]}
        assert scrub_user_data(output) is output

    def test_a_secret_that_json_escapes_is_still_found(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A known value with a quote, a backslash and a newline is found in a large
        output (searched as JSON text first) and replaced."""
        secret = f'pw"\\with\nodd{TOKEN}'
        monkeypatch.setenv("E2B_API_KEY", secret)
        output = {"rows": [f"row {n}" for n in range(2000)] + [f"x{secret}x"]}
        assert scrub_user_data(output)["rows"][-1] == f"x{REDACTED}x"

    def test_envelope_fields_are_scrubbed_by_owner(self, host_key: str) -> None:
        """Metadata (turnout's) is scrubbed in full; output and streams (the code's) lose
        only known values, and the fields that held one are named."""
        envelope: dict[str, Any] = {
            "language": "python",
            "output": {"url": "http://u:pw@h/", "key": host_key},
            "stdout": "plain\n",
            "stderr": host_key,
            "logs": ["plain", f"ERROR: {host_key}"],
            "metadata": {"warnings": ["unknown field api_key=abcdef"], "backend": "x"},
        }
        scrubbed, leaked = scrub_envelope(envelope)
        assert scrubbed["output"] == {"url": "http://u:pw@h/", "key": REDACTED}
        assert (scrubbed["stdout"], scrubbed["stderr"]) == ("plain\n", REDACTED)
        assert scrubbed["logs"] == ["plain", f"ERROR: {REDACTED}"]
        assert scrubbed["metadata"]["warnings"] == [f"unknown field api_key={REDACTED}"]
        assert leaked == ["logs", "output", "stderr"]

    def test_a_clean_envelope_names_no_field(self, host_key: str) -> None:
        """An envelope without a known value reports no leak."""
        envelope = {"output": 1, "stdout": "", "stderr": "", "logs": [], "metadata": {}}
        assert scrub_envelope(envelope) == (envelope, [])


class TestErrorsAndExceptions:
    def test_error_fields_are_scrubbed_by_name(self, host_key: str) -> None:
        """An error's stdout keeps URLs; its other text fields are scrubbed in full."""
        assert scrub_field("stdout", f"http://u:pw@h/ {host_key}") == f"http://u:pw@h/ {REDACTED}"
        assert scrub_field("traceback", "http://u:pw@h/") == f"http://{REDACTED}@h/"
        assert scrub_field("line", 3) == 3

    def test_an_exception_chain_is_scrubbed_in_place(self) -> None:
        """The text of an exception, its cause and its context lose their secrets."""
        root = ConnectionError("to http://u:pw123@h/ refused")
        middle = RuntimeError(f"with {E2B_KEY}", 7)
        middle.__cause__ = root
        top = ValueError("plain")
        top.__context__ = middle
        root.__context__ = top  # a cycle must not loop
        scrub_exception_chain(top)
        assert root.args == (f"to http://{REDACTED}@h/ refused",)
        assert middle.args == (f"with {REDACTED}", 7)
        assert top.args == ("plain",)


URL_SCHEMES = st.sampled_from(["http", "https", "ws", "postgres", "redis"])
#: RFC 3986 userinfo characters: unreserved, percent-encoded, sub-delims and ":".
USERINFO = st.text(
    st.sampled_from(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:%"
    ),
    min_size=1,
    max_size=40,
)
HOSTS = st.sampled_from(["127.0.0.1:1", "api.e2b.app", "[::1]:8080", "proxy.example", "h"])
PATHS = st.sampled_from(["", "/", "/v2/sandboxes", "/a/b.json", "/x#frag"])
#: Pieces that exercise every rule, and their interactions, when text is built from them.
FRAGMENTS = st.sampled_from(
    [
        "://",
        "@",
        "?",
        "=",
        "&",
        '"',
        "'",
        ":",
        " ",
        "[redacted]",
        "[redacted",
        "redacted]",
        "token",
        "api_key",
        "Bearer ",
        "e2b_",
        "sk-",
        "a1B2c3D4e5F6g7H8i9J0",
        "http://u:p@h/",
        HOST_KEY,
        HOST_KEY[:10],
        "redacted",
    ]
)
TEXTS = st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=12).map("".join)
SECRETS = (HOST_KEY, "redacted", "[redacted]x")


class TestProperties:
    @settings(max_examples=300, deadline=None)
    @given(scheme=URL_SCHEMES, userinfo=USERINFO, host=HOSTS, path=PATHS, prefix=TEXTS)
    def test_userinfo_is_removed_from_any_url(
        self, scheme: str, userinfo: str, host: str, path: str, prefix: str
    ) -> None:
        """Whatever the credentials, the URL comes out with `[redacted]` as its userinfo
        and its host and path intact; inside any surrounding text (which may redact more,
        as after `token=`), its userinfo is gone."""
        url = f"{scheme}://{userinfo}@{host}{path}"
        assert scrub_text(url, ()) == f"{scheme}://{REDACTED}@{host}{path}"
        assert f"://{userinfo}@" not in scrub_text(f"{prefix} ({url})", ())

    @settings(max_examples=300, deadline=None)
    @given(text=TEXTS)
    def test_scrub_text_is_idempotent(self, text: str) -> None:
        """Scrubbing scrubbed text changes nothing."""
        once = scrub_text(text, SECRETS)
        assert scrub_text(once, SECRETS) == once

    @settings(max_examples=300, deadline=None)
    @given(text=TEXTS)
    def test_known_values_never_survive(self, text: str) -> None:
        """No known secret is left in scrubbed text, however it was surrounded."""
        assert HOST_KEY not in scrub_text(text, SECRETS)
        assert HOST_KEY not in scrub_known(text, SECRETS)

    @settings(max_examples=100, deadline=None)
    @given(
        data=st.recursive(
            st.one_of(TEXTS, st.integers(), st.none()),
            lambda inner: st.one_of(
                st.lists(inner, max_size=4),
                st.dictionaries(st.one_of(TEXTS, st.sampled_from(["stdout", "token"])), inner),
            ),
            max_leaves=12,
        )
    )
    def test_scrub_data_is_idempotent(self, data: Any) -> None:
        """Scrubbing a scrubbed document changes nothing, user-data keys included."""
        once = scrub_data(data, SECRETS)
        assert scrub_data(once, SECRETS) == once
