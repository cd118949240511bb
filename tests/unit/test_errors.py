"""The server's own message from every common error-body shape, never raising."""

import pytest

from llm_load.core.wire.endpoint import api_base, redact
from llm_load.core.wire.errors import MAX_MESSAGE_CHARS, body_message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"error": {"message": "Invalid API Key", "type": "authentication_error"}}',
            "Invalid API Key",
        ),
        (
            b'{"error": "Prompt blocked for security reasons"}',
            "Prompt blocked for security reasons",
        ),
        (b'{"detail": "Not authenticated"}', "Not authenticated"),
        (b'{"detail": [{"loc": ["body"], "msg": "field required"}]}', "field required"),
        (b'{"message": "Forbidden"}', "Forbidden"),
        (
            b'{"object": "error", "message": "The model `x` does not exist.", "code": 404}',
            "The model `x` does not exist.",
        ),
        (b"upstream connect error", "upstream connect error"),
        (
            b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            "502 Bad Gateway",
        ),
        (b"<p>plain <b>html</b></p>", "plain html"),
        (b"", "(empty body)"),
        (None, "(empty body)"),
        (b"   \n", "(blank body)"),
        (b"{broken json", "{broken json"),
        (b"\xff\xfe binary", "\ufffd\ufffd binary"),
    ],
)
def test_body_message(body, expected):
    assert body_message(body) == expected


def test_long_bodies_are_clipped():
    assert len(body_message(b"x" * 10_000)) == MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    "host",
    [
        "http://h:8000",
        "http://h:8000/",
        "http://h:8000/v1",
        "http://h:8000/v1/",
        "http://h:8000/v1/v1",
    ],
)
def test_api_base_never_doubles_v1(host):
    assert api_base(host) == "http://h:8000/v1"


def test_redact_shows_only_prefix_and_last_four():
    assert redact("sk-abcdefghijklmnop1234") == "sk-…1234"
    assert "abcdefgh" not in redact("abcdefghijkl")
    assert redact("short") == "…****"
    assert redact("") == "(empty)" and redact(None) == "(none)"
