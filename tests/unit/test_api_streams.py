"""Recorded streams of the Responses, Messages and completions APIs (real vLLM and llama.cpp,
plus documented error events) through SSEDecoder and each API's accumulator, cut at every
byte boundary: the outcome never depends on the cuts, and equals what the server sent."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from llm_load.core.metrics.record import record_from_stream
from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.completions import CompletionStream
from llm_load.core.wire.messages import MessagesStream
from llm_load.core.wire.responses import ResponsesStream
from llm_load.core.wire.sse import SSEDecoder

STREAMS = Path(__file__).resolve().parent.parent / "fixtures" / "streams" / "apis"
CITY = {"city": "Berlin"}
# fixture -> accumulator, (content prefix, finish, input tokens, output tokens, token chunks,
# tool calls as (name, parsed arguments), error)
EXPECTED: dict[str, tuple[type[ChatStream], tuple[Any, ...]]] = {
    "vllm_completions.sse": (CompletionStream, (" fecategory", "length", 9, 6, 6, [], None)),
    "llamacpp_completions.sse": (CompletionStream, (" the most", "length", 6, 6, 6, [], None)),
    "vllm_responses.sse": (ResponsesStream, ("ython", "length", 19, 6, 2, [], None)),
    "llamacpp_responses.sse": (ResponsesStream, ("The capital", "stop", 14, 6, 6, [], None)),
    "vllm_responses_tool_named.sse": (
        ResponsesStream, ("", "tool_calls", 243, 68, 12, [("get_weather", CITY)], None)),
    "vllm_responses_tool_required.sse": (
        ResponsesStream,
        ("", "length", 243, 40, 11, [("get_weather", {"city": "Paris"})], None)),
    "llamacpp_responses_tool.sse": (
        ResponsesStream, ("", "tool_calls", 198, 30, 8, [("get_weather", CITY)], None)),
    "vllm_messages.sse": (MessagesStream, ("Context", "length", 31, 6, 6, [], None)),
    "llamacpp_messages.sse": (MessagesStream, ("A small", "length", 22, 6, 6, [], None)),
    "vllm_messages_tool_any.sse": (
        MessagesStream, ("", "tool_calls", 243, 54, 16, [("get_weather", CITY)], None)),
    "vllm_messages_tool_named.sse": (
        MessagesStream, ("", "tool_calls", 243, 47, 13, [("get_weather", CITY)], None)),
    "llamacpp_messages_tool.sse": (
        MessagesStream, ("", "length", 209, 30, 8, [("get_weather", CITY)], None)),
    "anthropic_overloaded_error.sse": (
        MessagesStream, ("Hello", None, 12, None, 1, [], "Overloaded")),
    "responses_error_event.sse": (
        ResponsesStream,
        ("Hi", None, None, None, 1, [],
         "The server had an error while processing your request.")),
    "responses_failed.sse": (
        ResponsesStream, ("", None, None, None, 1, [], "Rate limit reached for requests")),
}  # fmt: skip


def accumulate(cls: type[ChatStream], pieces: list[bytes]) -> ChatStream:
    decoder, acc = SSEDecoder(), cls()
    for i, piece in enumerate(pieces):
        for payload in decoder.feed(piece):
            acc.add(payload, float(i))
    for payload in decoder.flush():
        acc.add(payload, float(len(pieces)))
    return acc


def outcome(acc: ChatStream) -> tuple[Any, ...]:
    return (
        acc.content, acc.reasoning, json.dumps(acc.tool_calls), acc.finish_reason, acc.usage,
        acc.error, acc.done, acc.token_chunks, len(acc.tool_call_times_s), acc.invalid_chunks,
    )  # fmt: skip


def test_every_recorded_stream_is_checked() -> None:
    assert sorted(p.name for p in STREAMS.glob("*.sse")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_stream_outcome(name: str) -> None:
    cls, (prefix, finish, prompt, completion, chunks, calls, error) = EXPECTED[name]
    acc = accumulate(cls, [(STREAMS / name).read_bytes()])
    assert acc.content.startswith(prefix) and acc.finish_reason == finish
    assert (acc.prompt_tokens, acc.completion_tokens) == (prompt, completion)
    assert acc.token_chunks == chunks and acc.invalid_chunks == 0
    got = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in acc.tool_calls]
    assert got == calls and acc.error == error
    assert len(acc.tool_call_times_s) == (chunks if calls else 0)
    assert all(c["id"] and c["type"] == "function" for c in acc.tool_calls)
    assert acc.done == (error is None or name == "responses_failed.sse")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_byte_boundary_gives_the_same_outcome(name: str) -> None:
    cls = EXPECTED[name][0]
    data = (STREAMS / name).read_bytes()
    whole = outcome(accumulate(cls, [data]))
    for cut in range(1, len(data)):
        assert outcome(accumulate(cls, [data[:cut], data[cut:]])) == whole, cut
    assert outcome(accumulate(cls, [data[i : i + 1] for i in range(len(data))])) == whole


@pytest.mark.parametrize("name", [n for n in sorted(EXPECTED) if "tool" in n])
def test_random_many_piece_splits_give_identical_calls(name: str) -> None:
    cls = EXPECTED[name][0]
    data = (STREAMS / name).read_bytes()
    whole = accumulate(cls, [data]).tool_calls
    rng = random.Random(name)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(2, 40)))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert accumulate(cls, pieces).tool_calls == whole


def test_responses_call_id_is_what_a_function_call_output_answers() -> None:
    acc = accumulate(ResponsesStream, [(STREAMS / "llamacpp_responses_tool.sse").read_bytes()])
    assert acc.tool_calls[0]["id"] == "call_WOjDIKhBNP79rtR4jdjBXkpAM2CF2oOo"  # not the fc_ item


def test_messages_input_tokens_include_cache_reads() -> None:
    acc = accumulate(MessagesStream, [(STREAMS / "llamacpp_messages.sse").read_bytes()])
    assert acc.usage is not None and acc.usage["input_tokens"] == 21
    assert acc.usage["cache_read_input_tokens"] == 1 and acc.prompt_tokens == 22


def test_error_events_become_stream_errors_with_the_server_message() -> None:
    for name in ("anthropic_overloaded_error.sse", "responses_error_event.sse"):
        cls = EXPECTED[name][0]
        acc = accumulate(cls, [(STREAMS / name).read_bytes()])
        record = record_from_stream(
            acc, model="m", started_at=0.0, e2e_s=1.0, streamed=True, prompt_chars=40
        )
        assert record.error_kind == "stream_error" and record.error_message == acc.error
        assert record.ttft_s == 0.0  # the delta before the error still counted


def test_a_messages_stream_cut_before_message_delta_estimates_output_tokens() -> None:
    data = (STREAMS / "vllm_messages.sse").read_bytes()
    acc = accumulate(MessagesStream, [data[: data.index(b"event: content_block_stop")]])
    assert acc.completion_tokens is None and acc.prompt_tokens == 31  # not the start's 0
    record = record_from_stream(
        acc, model="m", started_at=0.0, e2e_s=1.0, streamed=True, prompt_chars=40
    )
    assert record.error_kind == "incomplete_stream" and record.output_tokens == 6
    assert not record.usage_reported


@pytest.mark.parametrize(
    ("name", "cached"),
    [
        ("llamacpp_messages.sse", 1),  # usage.cache_read_input_tokens
        ("llamacpp_responses.sse", 0),  # usage.input_tokens_details.cached_tokens
        ("vllm_responses.sse", 0),
        ("vllm_completions.sse", None),  # vLLM without --enable-prompt-tokens-details
    ],
)
def test_cached_tokens_in_each_apis_own_words(name: str, cached: int | None) -> None:
    cls, _ = EXPECTED[name]
    stream = accumulate(cls, [(STREAMS / name).read_bytes()])
    record = record_from_stream(
        stream, model="m", started_at=0.0, e2e_s=1.0, streamed=True, prompt_chars=40
    )
    assert record.cached_tokens == cached
