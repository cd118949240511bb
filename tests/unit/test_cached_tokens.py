"""A request's `cached_tokens`: `usage.prompt_tokens_details.cached_tokens`, else llama.cpp's
`timings.cache_n`, on real llama.cpp bodies (the same prompt sent twice: the second one's
57 of 62 prompt tokens came from its cache; `llamacpp_cached_real.*`, 2026-12-06)."""

import copy
import json
from pathlib import Path

import pytest

from llm_load.core.metrics.record import record_from_stream
from llm_load.core.server import server_cached_tokens
from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.sse import SSEDecoder

STREAMS = Path(__file__).resolve().parent.parent / "fixtures" / "streams"


def without_details(payload: bytes) -> bytes:
    """The payload as a llama.cpp build without `prompt_tokens_details` sends it."""
    if not payload.startswith(b"{"):
        return payload
    obj = json.loads(payload)
    (obj.get("usage") or {}).pop("prompt_tokens_details", None)
    return json.dumps(obj).encode()


def streamed(strip: bool) -> ChatStream:
    chat, decoder = ChatStream(), SSEDecoder()
    for i, payload in enumerate(decoder.feed((STREAMS / "llamacpp_cached_real.sse").read_bytes())):
        chat.add(without_details(payload) if strip else payload, 0.1 * (i + 1))
    return chat


def not_streamed(strip: bool) -> ChatStream:
    body = json.loads((STREAMS / "llamacpp_cached_real.json").read_text())
    if strip:
        body = copy.deepcopy(body)
        body["usage"].pop("prompt_tokens_details")
    chat = ChatStream()
    chat.add_completion(body)
    return chat


@pytest.mark.parametrize("read", [streamed, not_streamed])
@pytest.mark.parametrize("strip", [False, True])
def test_cached_tokens_from_usage_else_from_timings_cache_n(read, strip):
    chat = read(strip)
    assert chat.server_timings["cache_n"] == 57 and chat.prompt_tokens == 62
    assert ("prompt_tokens_details" in chat.usage) is not strip
    rec = record_from_stream(
        chat, model="gemma-3-270m", started_at=0.0, e2e_s=1.0, streamed=read is streamed,
        prompt_chars=250,
    )  # fmt: skip
    assert rec.ok and rec.cached_tokens == 57


def test_usage_wins_and_nothing_reported_is_none():
    chat = not_streamed(strip=False)
    chat.usage = {**chat.usage, "prompt_tokens_details": {"cached_tokens": 48}}
    rec = record_from_stream(chat, model="m", started_at=0, e2e_s=1, streamed=False, prompt_chars=4)
    assert rec.cached_tokens == 48  # the usage detail, not cache_n 57
    chat.usage, chat.server_timings = {"prompt_tokens": 62, "completion_tokens": 4}, None
    rec = record_from_stream(chat, model="m", started_at=0, e2e_s=1, streamed=False, prompt_chars=4)
    assert rec.cached_tokens is None


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({"cache_n": 0, "prompt_n": 62}, 0), ({"cache_n": True}, None), ({"queue_time_ms": 1}, None),
     (None, None)],
)  # fmt: skip
def test_server_cached_tokens(extra, expected):
    assert server_cached_tokens(extra) == expected
