"""Request bodies of the Responses, Messages, completions and embeddings APIs built from chat
messages and tools, and their recorded non-streamed answers (real vLLM and llama.cpp)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from llm_load.core.metrics.record import record_from_stream
from llm_load.core.wire.completions import CompletionStream, completions_request_body
from llm_load.core.wire.embeddings import EmbeddingsStream, batch_input, embeddings_request_body
from llm_load.core.wire.errors import body_message
from llm_load.core.wire.messages import (
    DEFAULT_MAX_TOKENS,
    MessagesStream,
    messages_headers,
    messages_request_body,
)
from llm_load.core.wire.responses import ResponsesStream, responses_request_body

BODIES = Path(__file__).resolve().parent.parent / "fixtures" / "streams" / "apis"
TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city", "strict": True,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}  # fmt: skip
TURNS: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    {"role": "tool", "tool_call_id": "call_2", "content": "rainy"},
]  # fmt: skip
ONE = [{"role": "user", "content": "Hello"}]


def load(name: str) -> Any:
    return json.loads((BODIES / name).read_bytes())


def test_responses_body_from_a_single_prompt() -> None:
    body = responses_request_body("m", ONE, max_tokens=8, temperature=0.5, stream=True)
    assert body == {"model": "m", "input": "Hello", "stream": True, "max_output_tokens": 8,
                    "temperature": 0.5}  # fmt: skip


def test_responses_body_from_a_tool_turn() -> None:
    extra = {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "x"}}}
    body = responses_request_body("m", TURNS, max_tokens=None, temperature=None, stream=False,
                                  extra=extra)  # fmt: skip
    assert body["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city": "Paris"}'},
        {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": ""},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": "rainy"},
    ]  # fmt: skip
    assert body["tools"] == [{"type": "function", **TOOL["function"]}]
    assert body["tool_choice"] == {"type": "function", "name": "x"}
    assert "max_output_tokens" not in body and "stream_options" not in body


def test_messages_body_from_a_tool_turn() -> None:
    extra = {"tools": [TOOL], "tool_choice": "required"}
    body = messages_request_body("m", TURNS, max_tokens=None, temperature=None, stream=True,
                                 extra=extra)  # fmt: skip
    assert body["system"] == "Be brief." and body["max_tokens"] == DEFAULT_MAX_TOKENS
    assert body["messages"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "rainy"}]},
    ]  # fmt: skip
    assert body["tools"] == [{"name": "get_weather", "input_schema": TOOL["function"]["parameters"],
                              "description": "Weather of a city", "strict": True}]  # fmt: skip
    assert body["tool_choice"] == {"type": "any"}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("auto", {"type": "auto"}), ("none", {"type": "none"}),
     ({"type": "function", "function": {"name": "f"}}, {"type": "tool", "name": "f"})],
)  # fmt: skip
def test_messages_tool_choice(choice: Any, expected: Any) -> None:
    body = messages_request_body("m", ONE, max_tokens=5, temperature=0.0, stream=False,
                                 extra={"tool_choice": choice})  # fmt: skip
    assert body["tool_choice"] == expected and body["max_tokens"] == 5 and "system" not in body


def test_messages_headers_carry_the_key_only_when_set() -> None:
    assert messages_headers("sk-x") == {"anthropic-version": "2023-06-01", "x-api-key": "sk-x"}
    assert messages_headers(None) == {"anthropic-version": "2023-06-01"}


def test_completions_and_embeddings_bodies() -> None:
    body = completions_request_body("m", TURNS[:2], max_tokens=4, temperature=None, stream=True,
                                    extra={"tools": [TOOL], "seed": 1})  # fmt: skip
    assert body == {"model": "m", "prompt": "Be brief.\nWeather in Paris?", "stream": True,
                    "max_tokens": 4, "stream_options": {"include_usage": True},
                    "seed": 1}  # fmt: skip
    body = embeddings_request_body("m", ONE, extra={"input": batch_input("Hi", 3)})
    assert body == {"model": "m", "input": ["1. Hi", "2. Hi", "3. Hi"], "encoding_format": "float"}
    assert batch_input("Hi", 1) == "Hi"


def test_recorded_non_streamed_answers() -> None:
    acc = ResponsesStream()
    acc.add_completion(load("vllm_responses.json"))
    assert (acc.content, acc.finish_reason) == ("upperLIST leftUIDMatch", "length")
    assert (acc.prompt_tokens, acc.completion_tokens, acc.done) == (12, 5, True)
    msg = MessagesStream()
    msg.add_completion(load("vllm_messages.json"))
    assert (msg.content, msg.finish_reason, msg.prompt_tokens, msg.completion_tokens) == (
        "ormaldaysdaysZwarnings", "length", 12, 5)  # fmt: skip
    text = CompletionStream()
    text.add_completion(load("vllm_completions.json"))
    assert (text.content, text.finish_reason, text.completion_tokens) == (
        "ITating:'sampwidthached", "length", 5)  # fmt: skip


def test_non_streamed_tool_answers() -> None:
    acc = ResponsesStream()
    acc.add_completion({"status": "completed", "output": [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "f",
         "arguments": '{"a": 1}'}], "usage": {"input_tokens": 3, "output_tokens": 4}})  # fmt: skip
    assert acc.tool_calls == [{"id": "call_9", "type": "function",
                               "function": {"name": "f", "arguments": '{"a": 1}'}}]  # fmt: skip
    assert (acc.reasoning, acc.finish_reason) == ("hm", "tool_calls")
    msg = MessagesStream()
    use = {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}
    msg.add_completion({"content": [{"type": "thinking", "thinking": "hm"}, use],
                        "stop_reason": "tool_use",
                        "usage": {"input_tokens": 3, "output_tokens": 4}})  # fmt: skip
    assert msg.tool_calls[0]["function"] == {"name": "f", "arguments": '{"a":1}'}
    assert (msg.reasoning, msg.finish_reason) == ("hm", "tool_calls")


def test_recorded_http_error_bodies_give_the_server_message() -> None:
    for name in ("vllm_messages_error_body.json", "vllm_responses_error_body.json"):
        message = body_message((BODIES / name).read_bytes())
        assert message.startswith("max_") and "cannot be greater than max_model_len" in message
    msg = MessagesStream()
    msg.add_completion(load("vllm_messages_error_body.json"))
    assert msg.error is not None and "max_model_len=4096" in msg.error


def test_recorded_embeddings_batch() -> None:
    acc = EmbeddingsStream()
    acc.add_completion(load("llamacpp_embeddings.json"))
    assert (acc.inputs, acc.dimension, acc.error, acc.done) == (2, 640, None, True)
    record = record_from_stream(acc, model="m", started_at=0.0, e2e_s=0.1, streamed=False,
                                prompt_chars=30)  # fmt: skip
    assert record.ok and record.input_tokens == 7 and record.output_tokens == 0
    assert record.usage_reported and record.ttft_s is None


@pytest.mark.parametrize(
    ("data", "error"),
    [([{"embedding": [1.0, 2.0], "index": 0}, {"embedding": [1.0], "index": 1}], "dimensions"),
     ([{"embedding": [1.0], "index": 0}, {"embedding": [2.0], "index": 0}], "indices"),
     ([{"embedding": "not base64!", "index": 0}], "not a vector"),
     ([], "no embeddings")],
)  # fmt: skip
def test_bad_embeddings_are_errors(data: list[Any], error: str) -> None:
    acc = EmbeddingsStream()
    acc.add_completion({"data": data, "usage": {"prompt_tokens": 1}})
    assert acc.error is not None and error in acc.error and not acc.done
    record = record_from_stream(acc, model="m", started_at=0.0, e2e_s=0.1, streamed=False,
                                prompt_chars=4)  # fmt: skip
    assert record.error_kind == "stream_error"


def test_base64_embeddings_count_four_bytes_a_dimension() -> None:
    acc = EmbeddingsStream()
    vector = base64.b64encode(bytes(4 * 384)).decode()
    acc.add_completion({"data": [{"embedding": vector, "index": 0}]})
    assert (acc.inputs, acc.dimension) == (1, 384)


def test_scenario_api_names_are_the_protocol_rows() -> None:
    from typing import get_args

    from llm_load.core.scenario.schema import Api
    from llm_load.core.wire.protocols import API_NAMES

    assert get_args(Api) == API_NAMES
