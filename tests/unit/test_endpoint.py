"""Endpoint helpers in the core: `GET /models` bodies read once for doctor, compare and the
load test's model discovery; the key resolution each command parametrizes."""

from __future__ import annotations

import pytest

from llm_load.core.wire.endpoint import ApiKey, model_entries, model_ids, resolve_key


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
