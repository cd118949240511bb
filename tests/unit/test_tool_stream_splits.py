"""Streamed tool calls (vLLM/Hermes, llama.cpp and the mock's own split) through SSEDecoder +
ChatStream, cut at every byte boundary: the merged calls never depend on the cuts."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.sse import SSEDecoder
from llm_load.mock.tool_answers import split_arguments, tool_call_deltas

STREAMS = Path(__file__).resolve().parent.parent / "fixtures" / "streams"
# Recorded stream -> the calls it carries (id, name, parsed arguments) and its finish reason.
RECORDED: dict[str, tuple[list[tuple[str, str, dict[str, Any]]], str]] = {
    "tool_calls.sse": (
        [
            ("chatcmpl-tool-4b1c6e2a9d8f4e7c", "get_weather",
             {"location": "Paris, France", "unit": "celsius"}),
            ("chatcmpl-tool-9e3a7d5b1c2f4a6e", "get_local_time", {"timezone": "Europe/Paris"}),
        ],
        "tool_calls",
    ),
    "llamacpp_tool_calls_real.sse": (
        [
            ("49foik4AzHJPLS3Q4Xv1DEUfBcnVEqO9", "get_weather", {"city": "Berlin"}),
            ("queoqsn2GrrwGMfNYMiuBHOyYAf47lwF", "get_weather", {"city": "Berlin"}),
        ],
        "length",
    ),
    "mock_tool_calls.sse": (
        [
            ("call_000000000001", "get_local_time", {"timezone": "Europe/Berlin"}),
            ("call_000000000002", "get_weather", {"city": "Berlin"}),
        ],
        "tool_calls",
    ),
}  # fmt: skip


def accumulate(pieces: list[bytes]) -> ChatStream:
    decoder, chat = SSEDecoder(), ChatStream()
    for i, piece in enumerate(pieces):
        for payload in decoder.feed(piece):
            chat.add(payload, float(i))
    for payload in decoder.flush():
        chat.add(payload, float(len(pieces)))
    return chat


def merged(chat: ChatStream) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in chat.tool_calls
    ]


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_stream_carries_the_expected_calls(name: str) -> None:
    calls, finish = RECORDED[name]
    chat = accumulate([(STREAMS / name).read_bytes()])
    assert merged(chat) == calls and chat.finish_reason == finish
    assert chat.done and chat.invalid_chunks == 0 and chat.content == ""
    assert all(c["type"] == "function" for c in chat.tool_calls)


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_every_byte_boundary_gives_identical_calls(name: str) -> None:
    data = (STREAMS / name).read_bytes()
    whole = accumulate([data]).tool_calls
    for cut in range(1, len(data)):
        assert accumulate([data[:cut], data[cut:]]).tool_calls == whole, cut
    assert accumulate([data[i : i + 1] for i in range(len(data))]).tool_calls == whole


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_random_many_piece_splits_give_identical_calls(name: str) -> None:
    data = (STREAMS / name).read_bytes()
    whole = accumulate([data]).tool_calls
    rng = random.Random(name)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(2, 40)))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert accumulate(pieces).tool_calls == whole


def sse(deltas: list[dict[str, Any]]) -> bytes:
    """A minimal OpenAI stream carrying the given ``tool_calls`` entries, one per chunk."""
    frames = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]}]
    frames += [{"choices": [{"index": 0, "delta": {"tool_calls": [d]}}]} for d in deltas]
    frames.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    body = b"".join(b"data: " + json.dumps(f).encode() + b"\n\n" for f in frames)
    return body + b"data: [DONE]\n\n"


CALLS = [
    {"id": "call_a", "type": "function",
     "function": {"name": "send_email", "arguments": json.dumps(
         {"to": "zoë@example.com", "subject": 'Say "hi"', "body": "Line 1\nC:\\tmp 🚀"},
         ensure_ascii=False)}},
    {"id": "call_b", "type": "function",
     "function": {"name": "get_weather", "arguments": '{"city": "Paris", "days": 3}'}},
    {"id": "call_c", "type": "function", "function": {"name": "ping", "arguments": ""}},
]  # fmt: skip


@pytest.mark.parametrize("style", ["vllm", "llamacpp"])
def test_mock_deltas_reassemble_at_every_byte_boundary(style: str) -> None:
    deltas = tool_call_deltas(CALLS, style)
    data = sse(deltas)
    assert accumulate([data]).tool_calls == CALLS
    for cut in range(1, len(data)):
        assert accumulate([data[:cut], data[cut:]]).tool_calls == CALLS, cut


def test_vllm_and_llamacpp_styles_differ_only_in_the_first_fragment() -> None:
    vllm, llama = tool_call_deltas(CALLS[1:2], "vllm"), tool_call_deltas(CALLS[1:2], "llamacpp")
    assert vllm[0] == {"index": 0, "id": "call_b", "type": "function",
                       "function": {"name": "get_weather", "arguments": ""}}  # fmt: skip
    assert llama[0]["function"] == {"name": "get_weather", "arguments": "{"}
    assert len(vllm) == len(llama) + 1 and vllm[2:] == llama[1:]
    assert all(set(d) == {"index", "function"} for d in vllm[1:])


def test_arguments_are_cut_at_awkward_places() -> None:
    text = '{"city": "San Francisco", "unit": "celsius"}'
    pieces = split_arguments(text)
    assert "".join(pieces) == text and len(pieces) > 8
    assert any(p.endswith(": ") or p.endswith(":") for p in pieces)  # between key and value
    assert any(p[:1].isalpha() and p[-1:].isalpha() for p in pieces)  # inside a string
    assert split_arguments("") == [] and split_arguments("{}", 3) == ["{}"]
