"""The Anthropic Messages API (`/v1/messages`): headers, request body and stream accumulator.

The body sends `max_tokens` (required by the API: `DEFAULT_MAX_TOKENS` when the run sets
none), the system messages' text as top-level `system`, the conversation as `messages`
(the assistant's tool calls as `tool_use` blocks, tool results as `tool_result` blocks of
a user turn), `temperature`, `stream` and the tools in Anthropic's shape (`name`,
`description`, `input_schema`; `tool_choice` `auto`/`any`/`none`/`tool`). The key goes in
`x-api-key` with `anthropic-version` (`messages_headers`). The stream is typed events:
`message_start` (input usage), `content_block_start` (a `tool_use` block: id and name),
`content_block_delta` (`text_delta`, `thinking_delta`, `input_json_delta`),
`content_block_stop`, `message_delta` (`stop_reason`, output usage), `message_stop` (the
end), `ping`, and `error` (`{"type": "error", "error": {"type", "message"}}`). Input
tokens are Anthropic's total: `input_tokens` + `cache_read_input_tokens` +
`cache_creation_input_tokens`; output tokens only from `message_delta` (the start's count
is a placeholder). `finish_reason` is OpenAI chat's (`stop`, `length`, `tool_calls`).
"""

from __future__ import annotations

from typing import Any

from orjson import dumps

from llm_load.core.wire.content import add_extra, arguments_object, text_of
from llm_load.core.wire.errors import error_text
from llm_load.core.wire.events import CALL, NONE, TOKEN, EventStream

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_MAX_TOKENS",
    "MessagesStream",
    "messages_headers",
    "messages_request_body",
]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
_STOP = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
         "tool_use": "tool_calls"}  # fmt: skip
_CACHE_KEYS = ("cache_read_input_tokens", "cache_creation_input_tokens")


def messages_headers(api_key: str | None) -> dict[str, str]:
    """`anthropic-version`, and `x-api-key` when there is a key (never logged)."""
    headers = {"anthropic-version": ANTHROPIC_VERSION}
    if api_key:
        headers["x-api-key"] = api_key
    return headers


def messages_request_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    max_tokens: int | None,
    temperature: float | None,
    stream: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a `/v1/messages` body; `extra` adds fields (chat `tools`/`tool_choice` converted)."""
    system = "\n".join(text_of(m.get("content")) for m in messages if m.get("role") == "system")
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens,
        "messages": anthropic_messages(messages),
        "stream": stream,
    }
    if system:
        body["system"] = system
    if temperature is not None:
        body["temperature"] = temperature
    return add_extra(body, extra, anthropic_tools, _tool_choice)


def anthropic_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages (system ones left out) as Anthropic turns; tool results join one user turn."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        role, text = msg.get("role"), text_of(msg.get("content"))
        if role == "tool":
            block = {"type": "tool_result", "tool_use_id": msg.get("tool_call_id"), "content": text}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif role == "assistant" and msg.get("tool_calls"):
            blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
            for call in msg["tool_calls"]:
                fn = call.get("function") or {}
                blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"),
                               "input": arguments_object(fn.get("arguments"))})  # fmt: skip
            out.append({"role": "assistant", "content": blocks})
        elif role != "system":
            out.append({"role": role, "content": text})
    return out


def anthropic_tools(tools: Any) -> Any:
    """Chat tools (`{"type": "function", "function": {...}}`) in Anthropic's shape."""
    if not isinstance(tools, list):
        return tools
    out = []
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict):
            out.append(tool)
            continue
        entry = {"name": fn.get("name"), "input_schema": fn.get("parameters") or {"type": "object"}}
        entry |= {k: fn[k] for k in ("description", "strict") if k in fn}
        out.append(entry)
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name")}
    names = {"auto": "auto", "required": "any", "none": "none"}
    return {"type": names[choice]} if isinstance(choice, str) and choice in names else choice


class MessagesStream(EventStream):
    """Accumulates one Anthropic message, streamed (`add`) or not (`add_completion`)."""

    __slots__ = ()

    # -- events ----------------------------------------------------------------------
    def _start(self, obj: dict[str, Any]) -> int:
        message = obj.get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        if isinstance(usage, dict):  # its output count is a placeholder: message_delta's wins
            self.usage = {k: v for k, v in usage.items() if k != "output_tokens"}
        self.role_seen = True
        return NONE

    def _block_start(self, obj: dict[str, Any]) -> int:
        block = obj.get("content_block")
        if not isinstance(block, dict):
            return NONE
        kind = block.get("type")
        if kind == "tool_use":
            self._calls[_index(obj, len(self._calls))] = {
                "id": block.get("id"), "type": "function", "name": block.get("name") or "",
                "args": [],
            }  # fmt: skip
            return CALL
        return self._text(block.get("text") if kind == "text" else None, block.get("thinking"))

    def _delta(self, obj: dict[str, Any]) -> int:
        delta = obj.get("delta")
        if not isinstance(delta, dict):
            return NONE
        kind = delta.get("type")
        if kind == "input_json_delta":
            fragment = delta.get("partial_json")
            call = self._calls.get(_index(obj, -1))
            if not fragment or not isinstance(fragment, str) or call is None:
                return NONE
            call["args"].append(fragment)
            return CALL
        return self._text(delta.get("text"), delta.get("thinking"))

    def _text(self, text: Any, thinking: Any) -> int:
        if isinstance(text, str) and text:
            self._content.append(text)
            return TOKEN
        if isinstance(thinking, str) and thinking:
            self._reasoning.append(thinking)
            return TOKEN
        return NONE

    def _message_delta(self, obj: dict[str, Any]) -> int:
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self.usage = {**(self.usage or {}), **usage}
        delta = obj.get("delta")
        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        if reason:
            self.finish_reason = _STOP.get(reason, reason)
        return NONE

    def _stop(self, obj: dict[str, Any]) -> int:
        self.done = True
        return NONE

    def _error(self, obj: dict[str, Any]) -> int:
        self.error = error_text(obj)
        return NONE

    # -- non-streaming ---------------------------------------------------------------
    def add_completion(self, obj: Any) -> None:
        """Accumulate a whole non-streaming `message` object."""
        if not isinstance(obj, dict):
            self.error = "response is not a JSON object"
            return
        if obj.get("type") == "error" or obj.get("error"):
            self.error = error_text(obj)
            return
        for i, block in enumerate(obj.get("content") or []):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                args = block.get("input")
                text = args if isinstance(args, str) else dumps(args or {}).decode()
                self._calls[i] = {"id": block.get("id"), "type": "function",
                                  "name": block.get("name") or "", "args": [text]}  # fmt: skip
            else:
                self._text(block.get("text"), block.get("thinking"))
        self.usage = obj.get("usage") or None
        reason = obj.get("stop_reason")
        self.finish_reason = _STOP.get(reason, reason) if isinstance(reason, str) else None
        self.done = True

    # -- results ---------------------------------------------------------------------
    @property
    def completion_tokens(self) -> int | None:
        value = self.usage.get("output_tokens") if self.usage else None
        return value if isinstance(value, int) else None

    @property
    def prompt_tokens(self) -> int | None:
        usage = self.usage
        value = usage.get("input_tokens") if usage else None
        if usage is None or not isinstance(value, int):
            return None
        return value + sum(v for k in _CACHE_KEYS if isinstance(v := usage.get(k), int))


def _index(obj: dict[str, Any], default: int) -> int:
    index = obj.get("index")
    return index if isinstance(index, int) else default


MessagesStream.HANDLERS = {
    "message_start": MessagesStream._start,
    "content_block_start": MessagesStream._block_start,
    "content_block_delta": MessagesStream._delta,
    "message_delta": MessagesStream._message_delta,
    "message_stop": MessagesStream._stop,
    "error": MessagesStream._error,
}
