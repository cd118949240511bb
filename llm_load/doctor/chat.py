"""Doctor checks that talk to the model: a 1-token chat, a streamed chat (SSE framing, role
chunk, content, usage chunk, reasoning field, TTFT) and one forced tool call.

Streams are decoded with the load test's own `SSEDecoder` and `ChatStream`, so what passes
here parses the same way under load. TTFT is the first chunk carrying content, reasoning or a
tool call, in ms from just before the request was sent.
"""

from __future__ import annotations

import json
from time import perf_counter
from typing import Any

import requests

from llm_load.core.wire.chat import ChatStream, chat_request_body
from llm_load.core.wire.sse import SSEDecoder
from llm_load.doctor.base import Step, Target
from llm_load.plain_http import describe_error, server_message

__all__ = ["MESSAGES", "TOOL", "check_chat", "check_stream", "check_tools"]

MESSAGES = [{"role": "user", "content": "Reply with one word: ready."}]
STREAM_TOKENS = 16
TOOL_TOKENS = 128
TOOL_NAME = "get_weather"
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}
TOOL_MESSAGES = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
_USAGE_WARNING = "usage not reported: llm-load will estimate token counts"


def _http_failure(name: str, what: str, resp: requests.Response, ms: float) -> Step:
    said = server_message(resp)
    status = resp.status_code
    details = {"status": status, "server_message": said, "latency_ms": round(ms, 2)}
    hints = []
    if status == 403 and ("filter" in said.lower() or "block" in said.lower()):
        hints.append(f"a content filter refused the doctor's prompt {MESSAGES[0]['content']!r}")
    elif status in (401, 403):
        hints.append("GET /models accepted the key but this route did not: a gateway rule?")
    elif status == 404:
        hints.append("the model or the /chat/completions route is not found at this base")
    msg = f"{what} → {status}: “{said}”"
    return Step(name, "fail", msg, details, hints, summary=f"HTTP {status} “{said}”")


def _usage_text(usage: dict[str, Any] | None) -> str:
    if not usage:
        return _USAGE_WARNING
    return (
        f"usage reported (prompt {usage.get('prompt_tokens')}, "
        f"completion {usage.get('completion_tokens')} tokens)"
    )


def _post_chat(t: Target, body: dict[str, Any]) -> tuple[requests.Response, float]:
    """A non-streaming chat completion and its latency in ms (transport errors raise)."""
    t0 = perf_counter()
    resp = t.request("POST", f"{t.base}/chat/completions", json=body)
    return resp, (perf_counter() - t0) * 1e3


def check_chat(t: Target) -> Step:
    """A non-streaming chat completion with `max_tokens: 1`."""
    what = f"POST {t.base}/chat/completions (1 token)"
    body = chat_request_body(str(t.model), MESSAGES, max_tokens=1, temperature=None, stream=False)
    try:
        resp, ms = _post_chat(t, body)
    except requests.RequestException as exc:
        return Step("chat", "fail", f"{what} failed: {describe_error(exc, t.timeout)}")
    if resp.status_code != 200:
        return _http_failure("chat", what, resp, ms)
    chat = ChatStream()
    try:
        chat.add_completion(resp.json())
    except ValueError:
        chat.error = f"the body is not JSON: {server_message(resp)[:120]}"
    details = {
        "status": 200,
        "latency_ms": round(ms, 2),
        "usage": chat.usage,
        "finish_reason": chat.finish_reason,
    }
    if chat.error:
        return Step("chat", "fail", f"{what} → 200 but {chat.error}", details)
    level = "ok" if chat.usage else "warn"
    return Step(
        "chat", level, f"1-token chat → 200 in {ms:.0f} ms, {_usage_text(chat.usage)}", details
    )


def _read_stream(t: Target, resp: requests.Response, t0: float) -> tuple[ChatStream, int]:
    """Decode the SSE body into a `ChatStream`; return it and the number of events."""
    decoder, chat, events = SSEDecoder(), ChatStream(), 0
    for block in resp.iter_content(chunk_size=None):
        now = perf_counter() - t0
        for payload in decoder.feed(block):
            chat.add(payload, now)
            events += 1
        if now > t.timeout:
            chat.error = chat.error or f"the stream did not end within {t.timeout:g} s"
            break
    for payload in decoder.flush():
        chat.add(payload, perf_counter() - t0)
        events += 1
    return chat, events


def _stream_problems(chat: ChatStream, ctype: str, events: int) -> tuple[list[str], list[str]]:
    """(failures, warnings) of a finished stream."""
    fails, warns = [], []
    if events == 0:
        fails.append(f"no SSE events (Content-Type: {ctype or 'none'}): streaming unsupported?")
    if chat.error:
        fails.append(f"error in the stream: “{chat.error}”")
    if chat.invalid_chunks:
        fails.append(f"{chat.invalid_chunks} events are not JSON, e.g. {chat.invalid_example!r}")
    if events and not chat.token_chunks and not chat.error:
        fails.append("the stream carried no content, reasoning or tool call")
    if events and not ctype.startswith("text/event-stream"):
        warns.append(f"Content-Type is {ctype or 'missing'}, not text/event-stream")
    if events and not chat.done:
        warns.append("the stream ended without data: [DONE]")
    if events and not chat.usage:
        warns.append(f"{_USAGE_WARNING} (stream_options.include_usage ignored)")
    return fails, warns


def _stream_step(chat: ChatStream, ctype: str, events: int, total_ms: float) -> Step:
    fails, warns = _stream_problems(chat, ctype, events)
    ttft = chat.token_times_s[0] * 1e3 if chat.token_times_s else None
    details = {
        "status": 200,
        "content_type": ctype,
        "events": events,
        "done": chat.done,
        "token_chunks": chat.token_chunks,
        "role_seen": chat.role_seen,
        "usage": chat.usage,
        "reasoning": bool(chat.reasoning),
        "invalid_chunks": chat.invalid_chunks,
        "ttft_ms": ttft,
        "total_ms": round(total_ms, 2),
    }
    if fails:
        return Step("stream", "fail", "; ".join(fails + warns), details, summary=fails[0])
    facts = [
        f"TTFT {ttft:.0f} ms, {chat.token_chunks} token chunks in {total_ms:.0f} ms",
        "SSE well-formed" + (", [DONE] seen" if chat.done else ""),
        "role chunk seen" if chat.role_seen else "no role chunk",
        "usage chunk reported" if chat.usage else "",
        "reasoning field present" if chat.reasoning else "no reasoning field",
    ]
    message = "; ".join([", ".join(f for f in facts if f), *warns])
    return Step("stream", "warn" if warns else "ok", message, details)


def check_stream(t: Target) -> Step:
    """A streamed chat with `stream_options.include_usage`, decoded like the load test does."""
    what = f"POST {t.base}/chat/completions (stream)"
    body = chat_request_body(
        str(t.model), MESSAGES, max_tokens=STREAM_TOKENS, temperature=None, stream=True
    )
    t0 = perf_counter()
    try:
        with t.request("POST", f"{t.base}/chat/completions", json=body, stream=True) as resp:
            if resp.status_code != 200:
                return _http_failure("stream", what, resp, (perf_counter() - t0) * 1e3)
            ctype = resp.headers.get("content-type", "")
            chat, events = _read_stream(t, resp, t0)
    except requests.RequestException as exc:
        return Step("stream", "fail", f"{what} failed: {describe_error(exc, t.timeout)}")
    return _stream_step(chat, ctype, events, (perf_counter() - t0) * 1e3)


_TOOL_HINT = (
    "vLLM: start it with --enable-auto-tool-choice --tool-call-parser PARSER (e.g. hermes for "
    "Qwen, llama3_json for Llama 3.1+); llama.cpp: llama-server --jinja"
)


_MODEL_HINT = (
    "the server accepted the tools; the model did not call as asked (a small or base model, "
    "or a chat template without tool support?)"
)


def _tool_verdict(chat: ChatStream, ms: float) -> tuple[str, str]:
    calls = chat.tool_calls
    if not calls:
        text = f"200 but no tool call came back (finish_reason {chat.finish_reason!r})"
        return "warn", text + ": tool_choice=required ignored?"
    fn = calls[0]["function"]
    try:
        args = json.loads(fn["arguments"] or "null")
    except ValueError:
        return "warn", f"{fn['name']}(...) arguments are not valid JSON: {fn['arguments'][:80]!r}"
    if not isinstance(args, dict):
        return "warn", f"{fn['name']}(...) arguments are JSON but not an object: {args!r}"
    call = f"{fn['name']}({json.dumps(args)[:80]})"
    if fn["name"] != TOOL_NAME or "city" not in args:
        return "warn", f"called {call}: not the tool or the arguments asked for"
    return "ok", f"tool_choice=required → {call} in {ms:.0f} ms, valid JSON arguments"


def check_tools(t: Target) -> Step:
    """One tool and `tool_choice: "required"`: a call with valid JSON arguments. Only warns."""
    extra = {"tools": [TOOL], "tool_choice": "required"}
    body = chat_request_body(
        str(t.model),
        TOOL_MESSAGES,
        max_tokens=TOOL_TOKENS,
        temperature=None,
        stream=False,
        extra=extra,
    )
    try:
        resp, ms = _post_chat(t, body)
    except requests.RequestException as exc:
        return Step("tools", "warn", f"tool-call request failed: {describe_error(exc, t.timeout)}")
    details: dict[str, Any] = {"status": resp.status_code, "latency_ms": round(ms, 2)}
    if resp.status_code != 200:
        said = details["server_message"] = server_message(resp)
        msg = f"tool calling unavailable: {resp.status_code} “{said}”"
        return Step("tools", "warn", msg, details, [_TOOL_HINT])
    chat = ChatStream()
    try:
        chat.add_completion(resp.json())
    except ValueError:
        return Step("tools", "warn", "tool-call response is not JSON", details)
    details["tool_calls"] = chat.tool_calls
    level, msg = _tool_verdict(chat, ms)
    return Step("tools", level, msg, details, [] if level == "ok" else [_MODEL_HINT])
