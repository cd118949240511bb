"""ChatStream accumulation: content, reasoning, tool calls, usage, errors, non-streaming."""

import json

import pytest

from llm_load.core.wire.chat import ChatStream, chat_request_body


def chunk(delta=None, finish=None, usage=None, choices=True) -> bytes:
    obj = {"object": "chat.completion.chunk", "choices": []}
    if choices:
        obj["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    if usage:
        obj["usage"] = usage
    return json.dumps(obj).encode()


def test_role_chunk_is_not_a_token_and_content_is():
    s = ChatStream()
    s.add(chunk({"role": "assistant", "content": ""}), 0.001)
    s.add(chunk({"content": None}), 0.002)
    assert s.token_times_s == [] and s.role_seen
    s.add(chunk({"content": "Hel"}), 0.050)
    s.add(chunk({"content": 'lo "x"\n'}), 0.055)
    assert s.token_times_s == [0.050, 0.055]
    assert s.content == 'Hello "x"\n'


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_counts_as_first_token(field):
    s = ChatStream()
    s.add(chunk({field: "thinking"}), 0.01)
    s.add(chunk({"content": "answer"}), 0.02)
    assert s.token_times_s == [0.01, 0.02]
    assert s.reasoning == "thinking" and s.content == "answer"


def test_finish_usage_and_done():
    s = ChatStream()
    s.add(chunk({"content": "a"}), 0.1)
    s.add(chunk({}, finish="length"), 0.2)
    s.add(chunk(usage={"prompt_tokens": 7, "completion_tokens": 1}, choices=False), 0.2)
    s.add(b"[DONE]", 0.2)
    assert (s.finish_reason, s.prompt_tokens, s.completion_tokens, s.done) == ("length", 7, 1, True)
    assert s.token_times_s == [0.1]


def test_tool_call_deltas_merge_by_index():
    s = ChatStream()
    first = {
        "tool_calls": [
            {
                "index": 0,
                "id": "c0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    }
    s.add(chunk(first), 0.1)
    s.add(
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": '{"tz"'},
                    }
                ]
            }
        ),
        0.11,
    )
    s.add(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Par'}}]}), 0.12)
    s.add(chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'is"}'}}]}), 0.13)
    s.add(chunk({"tool_calls": [{"index": 1, "function": {"arguments": ': "UTC"}'}}]}), 0.14)
    calls = s.tool_calls
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    assert json.loads(calls[1]["function"]["arguments"]) == {"tz": "UTC"}
    assert calls[0]["id"] == "c0" and s.token_chunks == 5


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"error": {"message": "overloaded", "code": 503}}', "overloaded"),
        (b'{"error": "boom"}', "boom"),
    ],
)
def test_in_stream_error(payload, message):
    s = ChatStream()
    s.add(payload, 0.1)
    assert s.error == message


def test_invalid_chunks_are_counted_not_raised():
    s = ChatStream()
    s.add(b"{not json", 0.1)
    s.add(b"[1, 2]", 0.2)
    assert s.invalid_chunks == 2 and s.invalid_example == "{not json"


def test_non_streaming_completion():
    s = ChatStream()
    s.add_completion(
        {
            "choices": [
                {"message": {"role": "assistant", "content": "hi there"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        }
    )
    assert (s.content, s.finish_reason, s.completion_tokens, s.done) == (
        "hi there",
        "stop",
        2,
        True,
    )
    assert s.token_times_s == []


def test_non_streaming_error_and_empty_shapes():
    s = ChatStream()
    s.add_completion({"error": {"message": "bad"}})
    assert s.error == "bad"
    s = ChatStream()
    s.add_completion({"choices": []})
    assert s.error == "response has no choices"


def test_request_body():
    body = chat_request_body(
        "m",
        [{"role": "user", "content": "x"}],
        max_tokens=5,
        temperature=0.0,
        stream=True,
        extra={"top_p": 0.9},
    )
    assert body == {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "max_tokens": 5,
        "temperature": 0.0,
        "stream_options": {"include_usage": True},
        "top_p": 0.9,
    }
    assert "stream_options" not in chat_request_body(
        "m", [], max_tokens=None, temperature=None, stream=False
    )


def test_first_answer_after_reasoning_and_reasoning_tokens():
    from llm_load.core.metrics.record import record_from_stream

    s = ChatStream()
    s.add(chunk({"reasoning_content": "hm"}), 0.1)
    s.add(chunk({"reasoning": "so"}), 0.2)
    s.add(chunk({"content": "Yes"}), 0.3)
    s.add(chunk({"content": "."}, finish="stop"), 0.4)
    assert (s.token_times_s[0], s.first_answer_s, s.reasoning_chunks) == (0.1, 0.3, 2)
    rec = record_from_stream(s, model="m", started_at=0, e2e_s=0.5, streamed=True, prompt_chars=4)
    assert (rec.ttft_ms, rec.ttfo_ms) == (100.0, 300.0)
    assert (rec.reasoning_tokens, rec.reasoning_estimated) == (2, True)
    usage = {"completion_tokens": 9, "completion_tokens_details": {"reasoning_tokens": 7}}
    s.add(chunk(usage=usage, choices=False), 0.45)
    rec = record_from_stream(s, model="m", started_at=0, e2e_s=0.5, streamed=True, prompt_chars=4)
    assert (rec.reasoning_tokens, rec.reasoning_estimated) == (7, False)
    plain = ChatStream()
    plain.add(chunk({"content": "Hi"}), 0.2)
    assert plain.first_answer_s == 0.2 and plain.reasoning_chunks == 0


# A non-streamed answer of vLLM 0.32 with a reasoning parser (its ChatMessage and UsageInfo
# serialized: `reasoning`, null extras, `completion_tokens_details`) and of llama.cpp with
# `--reasoning-format deepseek` (`reasoning_content`, no details).
VLLM_MESSAGE = {
    "role": "assistant", "content": "Yes.", "refusal": None, "annotations": None,
    "audio": None, "function_call": None, "reasoning": "221 = 13 x 17, so",
}  # fmt: skip
VLLM_USAGE = {
    "prompt_tokens": 20, "total_tokens": 32, "completion_tokens": 12,
    "prompt_tokens_details": None, "completion_tokens_details": {"reasoning_tokens": 9},
}  # fmt: skip
LLAMA_MESSAGE = {"role": "assistant", "content": "Yes.", "reasoning_content": "x" * 40}
LLAMA_USAGE = {"completion_tokens": 15, "prompt_tokens": 20, "total_tokens": 35}


@pytest.mark.parametrize(
    ("message", "usage", "reasoning", "estimated"),
    [
        (VLLM_MESSAGE, VLLM_USAGE, 9, False),  # reported by the server
        (LLAMA_MESSAGE, LLAMA_USAGE, 10, True),  # 40 characters: ~10 tokens
        ({**LLAMA_MESSAGE, "content": None}, None, 10, True),  # only thought: not empty
    ],
)
def test_non_streamed_answer_records_its_reasoning(message, usage, reasoning, estimated):
    from llm_load.core.metrics.record import record_from_stream

    body = {"object": "chat.completion", "choices": [
        {"index": 0, "message": message, "finish_reason": "length"}]}  # fmt: skip
    if usage:
        body["usage"] = usage
    s = ChatStream()
    s.add_completion(body)
    assert s.reasoning == (message.get("reasoning") or message["reasoning_content"])
    rec = record_from_stream(s, model="m", started_at=0, e2e_s=0.5, streamed=False, prompt_chars=4)
    assert rec.ok and rec.error_kind is None
    assert (rec.reasoning_tokens, rec.reasoning_estimated) == (reasoning, estimated)
    assert rec.ttft_ms is None and rec.ttfo_ms is None  # no stream, no first-token times
