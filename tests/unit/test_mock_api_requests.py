"""The mock's reading of Responses, Messages, completions and embeddings requests as the chat
request each amounts to (what its truth, tool cases and token counts then work from)."""

from __future__ import annotations

from typing import Any

import pytest

from llm_load.core.wire.messages import messages_request_body
from llm_load.core.wire.responses import responses_request_body
from llm_load.mock.api_requests import (
    completions_chat,
    embedding_inputs,
    messages_chat,
    responses_chat,
)
from llm_load.mock.payload import HttpError

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
TURNS: list[dict[str, Any]] = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "Q"},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": "R"},
]


@pytest.mark.parametrize("build", [responses_request_body, messages_request_body])
def test_our_own_bodies_round_trip_to_the_chat_request(build: Any) -> None:
    """What llm-load sends in another API reads back as the chat conversation it came from."""
    named = {"type": "function", "function": {"name": "f"}}
    body = build("m", TURNS, max_tokens=7, temperature=None, stream=True,
                 extra={"tools": [TOOL], "tool_choice": named})  # fmt: skip
    chat = (responses_chat if build is responses_request_body else messages_chat)(body)
    empty = "" if build is messages_request_body else None
    assert chat["messages"] == [
        *TURNS[:2],
        {"role": "assistant", "content": empty, "tool_calls": [CALL]},
        TURNS[3],
    ]
    assert chat["max_tokens"] == 7 and chat["stream"] is True
    assert chat["tools"] == [TOOL] and chat["tool_choice"] == named


def test_messages_requires_max_tokens_and_maps_tool_choice() -> None:
    with pytest.raises(HttpError, match="max_tokens"):
        messages_chat({"messages": [{"role": "user", "content": "x"}]})
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    body = {"max_tokens": 1, "messages": [{"role": "user", "content": "x"}], "tools": tools,
            "tool_choice": {"type": "any"}}  # fmt: skip
    assert messages_chat(body)["tool_choice"] == "required"


def test_responses_instructions_and_string_input() -> None:
    chat = responses_chat({"model": "m", "input": "hi", "instructions": "be brief"})
    assert chat["messages"] == [{"role": "system", "content": "be brief"},
                                {"role": "user", "content": "hi"}]  # fmt: skip
    with pytest.raises(HttpError):
        responses_chat({"input": 3})


def test_completions_prompt_and_embedding_inputs() -> None:
    assert completions_chat({"prompt": ["a", "b"]})["messages"] == [
        {"role": "user", "content": "ab"}]  # fmt: skip
    assert embedding_inputs({"input": "x"}) == ["x"]
    assert embedding_inputs({"input": ["x", "y"]}) == ["x", "y"]
    for bad in ([], [1], None):
        with pytest.raises(HttpError):
            embedding_inputs({"input": bad})
