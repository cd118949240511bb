"""Against each real server (llama.cpp, vLLM): chat streamed and not, usage against the server's
own counters, the doctor on the seed's day, a forced tool call graded, a 4-user headless run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from llm_load.core.metrics.record import record_from_stream
from llm_load.core.wire.chat import ChatStream, chat_request_body
from llm_load.core.wire.sse import SSEDecoder
from tests.conftest import TOOLS_LOCUSTFILE, clean_env, load, run_locust, short_run
from tests.real.conftest import RealServer

pytestmark = [pytest.mark.real, pytest.mark.timeout(900)]
PROMPT = [{"role": "user", "content": "Tell me about the sea."}]
RECORD_DIR = os.environ.get("LLM_LOAD_RECORD_STREAMS")
WRONG_KEY = "sk-wrong-key-for-the-seed-day-0000"
DRAIN = ("--stop-timeout", "60")  # users finish the call in flight: the counts stay exact
# Output tokens each server's /metrics counts (llama.cpp needs --metrics).
GENERATED = {"llama": "llamacpp:tokens_predicted_total", "vllm": "vllm:generation_tokens_total"}


def post_chat(server: RealServer, body: dict) -> tuple[ChatStream, bytes]:
    """POST a chat (streamed or not) with the server's key; the accumulated chat, raw body."""
    url = f"{server.base_url}/v1/chat/completions"
    with requests.post(url, json=body, headers=server.headers, stream=True, timeout=300) as r:
        assert r.status_code == 200, r.text
        decoder, chat, raw, t0 = SSEDecoder(), ChatStream(), bytearray(), time.perf_counter()
        for block in r.iter_content(chunk_size=None):
            raw += block
            for payload in decoder.feed(block) if body["stream"] else ():
                chat.add(payload, time.perf_counter() - t0)
    if not body["stream"]:
        chat.add_completion(json.loads(raw))
    return chat, bytes(raw)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_chat_finishes_with_a_reason_and_usage(server, stream):
    body = chat_request_body(server.model, PROMPT, max_tokens=16, temperature=0.0, stream=stream)
    chat, raw = post_chat(server, body)
    if RECORD_DIR and stream:
        Path(RECORD_DIR, f"{server.kind}_chat_real.sse").write_bytes(raw)
    assert chat.done and chat.error is None and chat.invalid_chunks == 0
    assert chat.finish_reason in ("length", "stop")  # both servers always send one
    assert 1 <= chat.completion_tokens <= 16 and chat.prompt_tokens > 0
    if stream:  # usually one token per chunk, not always (vLLM): tokens come from usage
        assert 1 <= chat.token_chunks <= chat.completion_tokens
    record = record_from_stream(
        chat, model=server.model, started_at=0, e2e_s=1, streamed=stream, prompt_chars=22
    )
    assert record.ok and record.output_tokens == chat.completion_tokens


def settled(server: RealServer, name: str) -> float:
    """The counter `name` once it stops moving (servers publish it a moment after the reply)."""
    last = server.metrics()[name]
    for _ in range(20):
        time.sleep(0.25)
        now = server.metrics()[name]
        if now == last:
            return now
        last = now
    return last


def test_four_users_headless_usage_equals_the_servers_count(server, summary_path):
    name = GENERATED[server.kind]
    before = settled(server, name)
    proc = short_run(
        server.base_url, summary_path, "--model", server.model, "--max-tokens", "16", *DRAIN,
        users=4, run_time="6s", env=clean_env(OPENAI_API_KEY=server.key or ""),
    )  # fmt: skip
    generated = settled(server, name) - before
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    s = load(summary_path)
    t = s["by_model"][server.model]
    # vLLM's random weights sometimes pick end-of-text first: a 200 with usage but no content
    allowed = {"empty_response"} if server.kind == "vllm" else set()
    assert {e["kind"] for e in s["errors"]} <= allowed, s["errors"]
    assert t["requests"] >= 4 and t["failures"] <= t["requests"] // 10 and t["cancelled"] == 0
    assert t["usage_reported"] == t["requests"] and t["ttft_ms"]["p50"] > 0
    assert t["output_tokens"] == generated  # what the server says it generated, exactly
    assert "LLM summary" in proc.stdout and server.key not in proc.stdout + proc.stderr


def doctor(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "llm_load.cli", "doctor", "--timeout", "120", *args]
    env = clean_env(PYTHONIOENCODING="utf-8")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def line(out: str, step: str) -> str:
    return next(x for x in out.splitlines() if x[2:].split(" ", 1)[0] == step)


def test_doctor_on_the_seed_day(server):
    """A base URL built wrong (`/api`) and a dummy key: both named in one run, then fixed."""
    seed = doctor("-H", server.base_url + "/api", "--api-key", WRONG_KEY)
    out = seed.stdout
    assert WRONG_KEY not in out + seed.stderr and "Traceback" not in seed.stderr
    auth = line(out, "auth")
    assert auth.startswith("✗ ") and "the server rejected the API key sk-…0000" in auth
    if server.kind == "vllm":  # 404 for /api/v1/models whatever the key, 401 on /v1/...
        assert seed.returncode == 11, out
        assert f"use -H {server.base_url}" in line(out, "endpoint")
        assert f"endpoint: wrong base URL: use -H {server.base_url}; then auth:" in out
    else:  # llama.cpp checks the key before routing: every path is 401, the URL untestable
        assert seed.returncode == 12, out
        assert "answers 401 to any path without a valid key" in out
        keyed = doctor("-H", server.base_url + "/api", "--api-key", server.key)
        assert keyed.returncode == 11, keyed.stdout  # with the key, the 404 shows
        assert f"use -H {server.base_url}" in line(keyed.stdout, "endpoint")
    fixed = doctor("-H", server.base_url, "--api-key", server.key, "--model", server.model)
    assert fixed.returncode == 0, fixed.stdout
    assert f"ready: -H {server.base_url} --model {server.model}" in fixed.stdout
    assert server.key not in fixed.stdout + fixed.stderr


CITY_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Berlin"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
FEW_SHOT = [  # llama.cpp's gemma calls reliably only after one example turn
    {"role": "user", "content": "What is the weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "user", "content": "What is the weather in Berlin?"},
]


def test_a_forced_tool_call_is_graded(server, summary_path, tmp_path):
    """Output budgets that fit exactly one whole call. vLLM's random model pads the forced
    JSON with whitespace: at 48 tokens the call is cut (finish_reason length, the raw
    `<tool_call>` text as content), so 256. llama.cpp's gemma repeats the call until
    max_tokens: 24-32 tokens hold one call; at 16 its arguments are cut to `{`, at 48 a second
    call starts (`{"`), and sending that back in the next turn gets HTTP 500 "Failed to parse
    tool call arguments as JSON", so one turn only."""
    # greedy (temperature 0) steadies gemma; vLLM's random model, greedy, pads whitespace
    # until the budget runs out (every call cut: invalid_json), so it keeps sampling
    budget, temperature = ("32", "0") if server.kind == "llama" else ("256", "1")
    case = {
        "id": "forced-weather-berlin",
        "messages": FEW_SHOT,
        "tools": [CITY_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "expect": {"calls": [{"name": "get_weather", "args": {"city": "Berlin"}}]},
    }
    cases = tmp_path / "forced.jsonl"
    cases.write_text(json.dumps(case) + "\n")
    proc = run_locust(
        "-u", "1", "-r", "1", "-t", "5s", "-H", server.base_url, "--model", server.model,
        "--tool-cases", str(cases), "--max-tokens", budget, "--tool-turns", "1",
        "--temperature", temperature, "--llm-json", str(summary_path),
        *DRAIN, locustfile=TOOLS_LOCUSTFILE, env=clean_env(OPENAI_API_KEY=server.key or ""),
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = load(summary_path)["by_model"][server.model]
    tools = m["tool_calls"]
    assert m["failures"] == 0 and tools["expected"] >= 1
    assert tools["correct"] + sum(tools["by_error"].values()) == tools["expected"]
    assert tools["accuracy"] == 1.0, tools  # the enum leaves one valid value: the right one
