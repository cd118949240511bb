"""Against a real llama.cpp server: our parsing, timing and error handling on real streams."""

from __future__ import annotations

import json
import os
from pathlib import Path
from time import perf_counter

import pytest
import requests

from llm_load.core.wire.chat import ChatStream, chat_request_body
from llm_load.core.wire.sse import SSEDecoder
from tests.conftest import clean_env, load, short_run
from tests.real.conftest import LLAMA_KEY, MODEL

pytestmark = [pytest.mark.real, pytest.mark.timeout(1800)]
PROMPT = [{"role": "user", "content": "Tell me about the sea."}]
RECORD_DIR = os.environ.get("LLM_LOAD_RECORD_STREAMS")


def stream_chat(base_url: str, body: dict) -> tuple[ChatStream, dict, bytes]:
    """POST a streaming chat; return the accumulated stream, llama's `timings`, raw bytes."""
    decoder, chat, timings, raw = SSEDecoder(), ChatStream(), {}, bytearray()
    t0 = perf_counter()
    with requests.post(f"{base_url}/v1/chat/completions", json=body, stream=True, timeout=120) as r:
        assert r.status_code == 200, r.text
        for block in r.iter_content(chunk_size=None):
            t = perf_counter() - t0
            raw += block
            for payload in decoder.feed(block):
                chat.add(payload, t)
                if payload.startswith(b"{") and b'"timings"' in payload:
                    timings = json.loads(payload)["timings"]
    return chat, timings, bytes(raw)


def test_streaming_tokens_and_itl_match_the_servers_own_timings(llama):
    body = chat_request_body(MODEL, PROMPT, max_tokens=48, temperature=0.0, stream=True)
    chat, timings, raw = stream_chat(llama.base_url, body)
    if RECORD_DIR:
        Path(RECORD_DIR, "llamacpp_real.sse").write_bytes(raw)
    assert chat.done and chat.error is None and chat.invalid_chunks == 0
    assert chat.completion_tokens == timings["predicted_n"] == chat.token_chunks
    times = chat.token_times_s
    assert times[0] > 0
    itl_ms = (times[-1] - times[0]) * 1000 / (len(times) - 1)
    assert itl_ms == pytest.approx(timings["predicted_per_token_ms"], rel=0.10)


def test_non_streaming_completion(llama):
    body = chat_request_body(MODEL, PROMPT, max_tokens=16, temperature=0.0, stream=False)
    r = requests.post(f"{llama.base_url}/v1/chat/completions", json=body, timeout=120)
    chat = ChatStream()
    chat.add_completion(r.json())
    assert chat.error is None and chat.content and chat.completion_tokens == 16


def test_headless_locust_run_with_four_users(llama, summary_path):
    proc = short_run(
        llama.base_url + "/v1", summary_path, "--max-tokens", "24", users=4, run_time="8s"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    t = s["by_model"][MODEL]  # discovered from GET /v1/models
    assert t["requests"] >= 4 and t["failures"] == 0
    assert t["usage_reported"] == t["requests"] and t["ttft_ms"]["p50"] > 0
    assert t["output_tokens"] >= 24 * t["requests"]
    assert "LLM summary" in proc.stdout


@pytest.mark.parametrize("key", [None, "", "sk-wrong-key-000000"])
def test_auth_failures_carry_the_servers_message(llama_with_key, summary_path, key):
    args = ["--model", MODEL] + ([] if key is None else ["--api-key", key])
    proc = short_run(llama_with_key.base_url, summary_path, *args, users=1)
    s = load(summary_path)
    assert s["totals"]["failures"] == s["totals"]["requests"] > 0
    assert s["errors"][0] == {
        "kind": "http_401",
        "count": s["totals"]["requests"],
        "example": "Invalid API Key",
    }
    assert LLAMA_KEY not in proc.stdout + proc.stderr + summary_path.read_text()


def test_right_key_from_env_works(llama_with_key, summary_path):
    proc = short_run(
        llama_with_key.base_url, summary_path, "--model", MODEL, "--max-tokens", "8",
        users=1, env=clean_env(OPENAI_API_KEY=LLAMA_KEY),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load(summary_path)["totals"]["failures"] == 0
    assert LLAMA_KEY not in proc.stdout + proc.stderr + summary_path.read_text()


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
FEW_SHOT = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
            }
        ],
    },
    {"role": "user", "content": "What is the weather in Berlin?"},
]


def test_streamed_tool_calls_parse(llama):
    body = chat_request_body(
        MODEL,
        FEW_SHOT,
        max_tokens=64,
        temperature=0.0,
        stream=True,
        extra={"tools": [WEATHER_TOOL]},
    )
    chat, _, raw = stream_chat(llama.base_url, body)
    if RECORD_DIR:
        Path(RECORD_DIR, "llamacpp_tool_calls_real.sse").write_bytes(raw)
    assert chat.error is None and chat.invalid_chunks == 0
    if not chat.tool_calls:
        pytest.skip(f"the model answered without a tool call: {chat.content[:80]!r}")
    for call in chat.tool_calls:  # grade whatever it did: the point is parsing real deltas
        assert call["function"]["name"] == "get_weather"
        assert isinstance(json.loads(call["function"]["arguments"]), dict)


def test_repeated_prompt_is_cached_and_cache_n_agrees_with_usage(llama):
    """llama.cpp reports its prompt cache twice: `usage.prompt_tokens_details.cached_tokens`
    and `timings.cache_n` (our fallback when the usage detail is missing). Equal here."""
    from llm_load.core.metrics.record import record_from_stream

    text = "The sea is wide and deep. " * 12  # ~80 tokens, the same each time
    messages = [{"role": "user", "content": text}]
    seen = []
    for stream in (False, True, False):
        body = chat_request_body(MODEL, messages, max_tokens=2, temperature=0.0, stream=stream)
        if stream:
            chat, _, _ = stream_chat(llama.base_url, body)
        else:
            r = requests.post(f"{llama.base_url}/v1/chat/completions", json=body, timeout=120)
            chat = ChatStream()
            chat.add_completion(r.json())
        rec = record_from_stream(
            chat, model=MODEL, started_at=0, e2e_s=1, streamed=stream, prompt_chars=len(text)
        )
        usage_cached = chat.usage["prompt_tokens_details"]["cached_tokens"]
        assert chat.server_timings["cache_n"] == usage_cached == rec.cached_tokens
        seen.append(rec.cached_tokens)
    assert 0 < seen[1] < chat.prompt_tokens and seen[2] == seen[1]  # the repeats hit
