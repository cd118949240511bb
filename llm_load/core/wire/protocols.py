"""The endpoint protocol table: one row per OpenAI-compatible API llm-load can send.

A `WireProtocol` is what differs between APIs: the path under the `/v1` base, the request
body built from a `Call`, the accumulator of a streamed response (SSE payloads in through
`add(payload, t_s)`, `has_token()`), the parser of a non-streamed body into that
accumulator, and the error shape (the server's own message from an error body; in-stream
errors are the accumulator's). `LLMUser` sends every call through a row of `PROTOCOLS`, so
a new API is a new row, not branches in the user. Chat completions is the only row today.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from llm_load.core.wire.chat import ChatStream, chat_request_body, json_loads
from llm_load.core.wire.errors import body_message

__all__ = ["CHAT", "PROTOCOLS", "Call", "WireProtocol"]


@dataclass(frozen=True, slots=True)
class Call:
    """One LLM call to send: the model, the conversation and the sampling settings
    (`max_tokens` in tokens; None leaves a field to the server), streamed or not."""

    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None
    temperature: float | None
    stream: bool
    extra: dict[str, Any] | None = None  # more body fields, e.g. `tools`
    input_tokens: int | None = None  # prompt tokens asked for (checked against usage)


@dataclass(frozen=True, slots=True)
class WireProtocol:
    """One API: `path` (under `/v1`), `body(call)`, `new_stream()`, `parse(acc, body)`
    (raises `ValueError` when the body is not JSON) and `error_message(body)`."""

    name: str
    path: str
    body: Callable[[Call], dict[str, Any]]
    new_stream: Callable[[], ChatStream]
    parse: Callable[[ChatStream, bytes], None]
    error_message: Callable[[bytes | None], str] = body_message


def _chat_body(call: Call) -> dict[str, Any]:
    return chat_request_body(
        call.model,
        call.messages,
        max_tokens=call.max_tokens,
        temperature=call.temperature,
        stream=call.stream,
        extra=call.extra,
    )


def _parse_json(stream: ChatStream, body: bytes) -> None:
    stream.add_completion(json_loads(body))


CHAT = WireProtocol("chat", "/chat/completions", _chat_body, ChatStream, _parse_json)
PROTOCOLS: Mapping[str, WireProtocol] = MappingProxyType({CHAT.name: CHAT})
