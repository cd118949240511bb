"""The endpoint protocol table: one row per OpenAI-compatible API llm-load can send.

A `WireProtocol` is what differs between APIs: the path under the `/v1` base, the request
body built from a `Call`, the accumulator of a streamed response (SSE payloads in through
`add(payload, t_s)`, `has_token()`), the parser of a non-streamed body into that
accumulator, and the error shape (the server's own message from an error body; in-stream
errors are the accumulator's), the auth headers of a key (`Authorization: Bearer`, or
Anthropic's `x-api-key`) and whether it streams at all. `LLMUser` sends every call through a
row of `PROTOCOLS`, so a new API is a new row, not branches in the user. The rows: chat,
responses, messages, completions, embeddings (see docs/apis.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from llm_load.core.wire.chat import ChatStream, chat_request_body, json_loads
from llm_load.core.wire.completions import CompletionStream, completions_request_body
from llm_load.core.wire.embeddings import EmbeddingsStream, batch_input, embeddings_request_body
from llm_load.core.wire.errors import body_message
from llm_load.core.wire.messages import MessagesStream, messages_headers, messages_request_body
from llm_load.core.wire.responses import ResponsesStream, responses_request_body

__all__ = ["API_NAMES", "CHAT", "PROTOCOLS", "Call", "WireProtocol", "bearer_headers"]


def bearer_headers(key: str) -> dict[str, str]:
    """`Authorization: Bearer KEY` (none without a key)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


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
    batch: int = 1  # inputs per request (embeddings)
    turn: int | None = None  # 1-based turn of a multi-turn conversation (recorded, not sent)


@dataclass(frozen=True, slots=True)
class WireProtocol:
    """One API: `path` (under `/v1`), `body(call)`, `new_stream()`, `parse(acc, body)`
    (raises `ValueError` when the body is not JSON), `error_message(body)`, `auth(key)` (the
    headers carrying the key) and `streams` (False: always sent non-streamed)."""

    name: str
    path: str
    body: Callable[[Call], dict[str, Any]]
    new_stream: Callable[[], ChatStream]
    parse: Callable[[ChatStream, bytes], None]
    error_message: Callable[[bytes | None], str] = body_message
    auth: Callable[[str], dict[str, str]] = bearer_headers
    streams: bool = True


Builder = Callable[..., dict[str, Any]]


def _body(build: Builder) -> Callable[[Call], dict[str, Any]]:
    def body(call: Call) -> dict[str, Any]:
        return build(
            call.model,
            call.messages,
            max_tokens=call.max_tokens,
            temperature=call.temperature,
            stream=call.stream,
            extra=call.extra,
        )

    return body


def _embeddings_body(call: Call) -> dict[str, Any]:
    body = embeddings_request_body(call.model, call.messages, extra=call.extra)
    if call.batch > 1:
        body["input"] = batch_input(body["input"], call.batch)
    return body


def _parse_json(stream: ChatStream, body: bytes) -> None:
    stream.add_completion(json_loads(body))


CHAT = WireProtocol("chat", "/chat/completions", _body(chat_request_body), ChatStream, _parse_json)
PROTOCOLS: Mapping[str, WireProtocol] = MappingProxyType(
    {
        p.name: p
        for p in (
            CHAT,
            WireProtocol("responses", "/responses", _body(responses_request_body),
                         ResponsesStream, _parse_json),
            WireProtocol("messages", "/messages", _body(messages_request_body), MessagesStream,
                         _parse_json, auth=messages_headers),
            WireProtocol("completions", "/completions", _body(completions_request_body),
                         CompletionStream, _parse_json),
            WireProtocol("embeddings", "/embeddings", _embeddings_body, EmbeddingsStream,
                         _parse_json, streams=False),
        )
    }
)  # fmt: skip
API_NAMES = tuple(PROTOCOLS)
