"""Recorded streams through SSEDecoder + ChatStream, split at every byte boundary."""

import json
from pathlib import Path

import pytest

from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.sse import SSEDecoder

STREAMS = Path(__file__).resolve().parent.parent / "fixtures" / "streams"


def accumulate(pieces: list[bytes]) -> ChatStream:
    decoder, chat = SSEDecoder(), ChatStream()
    for i, piece in enumerate(pieces):
        for payload in decoder.feed(piece):
            chat.add(payload, float(i))
    for payload in decoder.flush():
        chat.add(payload, float(len(pieces)))
    return chat


def outcome(chat: ChatStream) -> tuple:
    return (
        chat.content,
        chat.reasoning,
        json.dumps(chat.tool_calls),
        chat.finish_reason,
        chat.usage,
        chat.error,
        chat.done,
        chat.token_chunks,
        chat.invalid_chunks,
    )


@pytest.mark.parametrize("name", sorted(p.name for p in STREAMS.glob("*.sse")))
def test_every_two_piece_split_gives_the_same_outcome(name):
    data = (STREAMS / name).read_bytes()
    whole = outcome(accumulate([data]))
    for cut in range(1, len(data)):
        assert outcome(accumulate([data[:cut], data[cut:]])) == whole, cut
    assert outcome(accumulate([data[i : i + 1] for i in range(len(data))])) == whole


def test_vllm_stream():
    chat = accumulate([(STREAMS / "vllm_chat.sse").read_bytes()])
    assert chat.content == "The capital of France is Paris."
    assert (chat.finish_reason, chat.prompt_tokens, chat.completion_tokens) == ("stop", 24, 8)
    assert chat.done and chat.error is None and chat.invalid_chunks == 0


def test_llamacpp_stream_role_chunk_with_null_content_is_not_a_token():
    chat = accumulate([(STREAMS / "llamacpp_chat.sse").read_bytes()])
    assert chat.role_seen and chat.token_chunks == 8 and chat.finish_reason == "length"
    assert chat.completion_tokens == 8


def test_tool_call_stream():
    chat = accumulate([(STREAMS / "tool_calls.sse").read_bytes()])
    names = [c["function"]["name"] for c in chat.tool_calls]
    assert names == ["get_weather", "get_local_time"]
    for call in chat.tool_calls:
        assert isinstance(json.loads(call["function"]["arguments"]), dict)
    assert chat.finish_reason == "tool_calls"


def test_error_event():
    chat = accumulate([(STREAMS / "error_event.sse").read_bytes()])
    assert chat.error and chat.done


def test_llamacpp_error_field_is_a_stream_error_and_keeps_the_tokens():
    """Older llama.cpp servers: `error: {...}` (an SSE field, not data) then `data: [DONE]`."""
    chat = accumulate([(STREAMS / "llamacpp_error_field.sse").read_bytes()])
    assert chat.error == "context shift is disabled"
    assert chat.content == "Tell me" and chat.token_chunks == 2 and chat.done


def test_recorded_vllm_queue_full_stream_is_a_stream_error():
    """vLLM 0.32 refusing a stream past --max-num-queued-reqs: HTTP 200, one error event."""
    chat = accumulate([(STREAMS / "vllm_queue_full_real.sse").read_bytes()])
    assert chat.error is not None and chat.error.startswith("The engine is currently busy")
    assert chat.token_chunks == 0 and chat.done


def test_recorded_vllm_stream_has_fewer_chunks_than_tokens():
    """vLLM 0.32: 6 tokens in 4 content chunks, finish_reason on the last content chunk."""
    chat = accumulate([(STREAMS / "vllm_chat_real.sse").read_bytes()])
    assert (chat.completion_tokens, chat.token_chunks, chat.finish_reason) == (6, 4, "length")


def test_recorded_llama_server_tool_call_stream():
    chat = accumulate([(STREAMS / "llamacpp_tool_calls_real.sse").read_bytes()])
    assert chat.tool_calls and chat.tool_calls[0]["function"]["name"] == "get_weather"
    assert json.loads(chat.tool_calls[0]["function"]["arguments"]) == {"city": "Berlin"}


def test_recorded_mock_stream():
    chat = accumulate([(STREAMS / "mock_chat.sse").read_bytes()])
    assert chat.completion_tokens == chat.token_chunks == 12 and chat.done
