"""Endpoint helpers in the core: `GET /models` bodies read once for doctor, compare and the
load test's model discovery; the key resolution each command parametrizes."""

from __future__ import annotations

import pytest

from llm_load.core.wire.endpoint import (
    ApiKey,
    HeaderError,
    is_secret_header,
    model_entries,
    model_ids,
    parse_header,
    redact,
    resolve_key,
    scrub_secrets,
    secrets_of,
    shown_headers,
)


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        (b'{"object":"list","data":[{"id":"a"},{"id":"b"},{"id":"a"}]}', ("a", "b")),
        (b'{"data":[{"id":7}]}', ("7",)),
        (b'{"data":[]}', ()),
        (b'{"data":[{"name":"a"}]}', None),
        (b'{"data":["a"]}', None),
        (b'{"models":[]}', None),
        (b"<html>not found</html>", None),
        (b"\xff\xfe", None),
    ],
)
def test_model_ids(body: bytes, ids: tuple[str, ...] | None) -> None:
    assert model_ids(body) == ids


def test_model_entries_keep_objects_only() -> None:
    body = b'{"data":[{"id":"a","max_model_len":4096},"junk"]}'
    assert model_entries(body) == [{"id": "a", "max_model_len": 4096}]
    assert model_entries(b"[]") is None


def test_resolve_key_env_order_and_flag_source() -> None:
    environ = {"LLM_LOAD_API_KEY": "sk-llm-1111", "OPENAI_API_KEY": "sk-openai-2222"}
    assert resolve_key(None, environ) == ApiKey("sk-llm-1111", "LLM_LOAD_API_KEY")
    only_openai = resolve_key(None, environ, ("OPENAI_API_KEY",), "--api-key / LLM_LOAD_API_KEY")
    assert only_openai == ApiKey("sk-openai-2222", "OPENAI_API_KEY")
    assert resolve_key("", environ, flag_source="--x").source == "--x"  # given, even empty
    assert resolve_key(None, {}) == ApiKey(None, "none")


# -- extra headers ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("Authorization", True), ("x-api-key", True), ("X-Auth-Token", True), ("Cookie", True),
        ("OpenAI-Organization", False), ("X-Team", False), ("Content-Type", False),
        ("X-Client-Secret", True), ("api_key", True),
    ],
)  # fmt: skip
def test_secret_headers_are_named_like_keys_and_tokens(name, secret):
    assert is_secret_header(name) is secret


def test_parse_header_and_its_errors_never_show_the_value():
    assert parse_header("X-Team:  blue ") == ("X-Team", "blue")
    assert parse_header("Authorization: Bearer a:b") == ("Authorization", "Bearer a:b")
    for bad in (
        "Bearer sk-secret-1",
        ": sk-secret-1",
        "Bad Name: sk-secret-1",
        "X-A: sk-secret-1\nX-B: y",
    ):
        with pytest.raises(HeaderError) as error:
            parse_header(bad)
        assert "sk-secret-1" not in str(error.value)


def test_secret_header_values_are_shown_redacted_and_listed_for_scrubbing():
    key = "sk-0123456789abcdef"
    headers = (("Authorization", f"Bearer {key}"), ("X-Api-Key", "k-secret-42"), ("X-Team", "b"))
    assert shown_headers(headers) == {
        "Authorization": "Bearer sk-…cdef", "X-Api-Key": redact("k-secret-42"),
        "X-Team": "b",
    }  # fmt: skip
    secrets = secrets_of("http://h", ApiKey(None, "none"), headers)
    assert key in secrets and f"Bearer {key}" in secrets and "k-secret-42" in secrets
    assert "b" not in secrets
    assert scrub_secrets(f"echo Bearer {key}", secrets) == "echo …cdef"
