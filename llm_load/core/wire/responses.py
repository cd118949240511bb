"""The OpenAI Responses API (`/v1/responses`): request body and stream accumulator.

The body sends `input` (the prompt string, or the conversation as input items: messages,
`function_call` items for the assistant's tool calls and `function_call_output` items for
tool results), `max_output_tokens`, `temperature`, `stream` and the tools in the Responses
shape (`{"type": "function", "name", "parameters", ...}`). The stream is typed events
(`{"type": ...}` in every data payload): text from `response.output_text.delta`, reasoning
from the `response.reasoning*.delta` events, tool calls from `response.output_item.added`
(a `function_call` item: id and name) and `response.function_call_arguments.delta`
(the final text of `.done` or `response.output_item.done` replaces the fragments), usage
and the end from `response.completed` / `response.incomplete`, errors from
`response.failed` and `error` events. Calls are keyed by item id (llama.cpp sends no
`output_index`) or output index; a call's `id` is its `call_id`, what a
`function_call_output` answers. `finish_reason` is OpenAI chat's: `stop`, `tool_calls`,
`length` (incomplete at `max_output_tokens`) or the server's reason.
"""

from __future__ import annotations

from typing import Any

from llm_load.core.wire.content import add_extra, text_of
from llm_load.core.wire.errors import error_text
from llm_load.core.wire.events import CALL, NONE, TOKEN, EventStream

__all__ = ["ResponsesStream", "responses_input", "responses_request_body", "responses_tools"]


def responses_request_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    max_tokens: int | None,
    temperature: float | None,
    stream: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a `/v1/responses` body; `extra` adds fields (chat `tools`/`tool_choice` converted)."""
    body: dict[str, Any] = {"model": model, "input": responses_input(messages), "stream": stream}
    if max_tokens is not None:
        body["max_output_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    return add_extra(body, extra, responses_tools, _tool_choice)


def responses_input(messages: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A lone user message as a string, else the conversation as Responses input items."""
    if len(messages) == 1 and messages[0].get("role") == "user":
        return text_of(messages[0].get("content"))
    items: list[dict[str, Any]] = []
    for msg in messages:
        role, text = msg.get("role"), text_of(msg.get("content"))
        if role == "tool":
            items.append(
                {"type": "function_call_output", "call_id": msg.get("tool_call_id"), "output": text}
            )
            continue
        if text or not msg.get("tool_calls"):
            items.append({"role": role, "content": text})
        for call in msg.get("tool_calls") or []:
            fn = call.get("function") or {}
            items.append(
                {"type": "function_call", "call_id": call.get("id"), "name": fn.get("name"),
                 "arguments": fn.get("arguments") or ""}
            )  # fmt: skip
    return items


def responses_tools(tools: Any) -> Any:
    """Chat tools (`{"type": "function", "function": {...}}`) in the Responses shape."""
    if not isinstance(tools, list):
        return tools
    out = []
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, dict) else None
        out.append({"type": "function", **fn} if isinstance(fn, dict) else tool)
    return out


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "function", "name": choice["function"].get("name")}
    return choice


def _finish(response: dict[str, Any], has_calls: bool) -> str | None:
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if reason:
        return "length" if reason == "max_output_tokens" else str(reason)
    status = response.get("status")
    if status == "completed":
        return "tool_calls" if has_calls else "stop"
    return str(status) if status else None


class ResponsesStream(EventStream):
    """Accumulates one Responses API response, streamed (`add`) or not (`add_completion`)."""

    __slots__ = ("_by_index", "_by_item")

    def __init__(self) -> None:
        super().__init__()
        self._by_item: dict[str, int] = {}  # item id -> call index
        self._by_index: dict[int, int] = {}  # output index -> call index

    # -- events ----------------------------------------------------------------------
    def _text(self, obj: dict[str, Any]) -> int:
        delta = obj.get("delta")
        if isinstance(delta, str) and delta:
            self._content.append(delta)
            return TOKEN
        return NONE

    def _thought(self, obj: dict[str, Any]) -> int:
        delta = obj.get("delta")
        if isinstance(delta, str) and delta:
            self._reasoning.append(delta)
            return TOKEN
        return NONE

    def _item_added(self, obj: dict[str, Any]) -> int:
        item = obj.get("item")
        if not isinstance(item, dict):
            return NONE
        if item.get("type") == "message":
            self.role_seen = True
        if item.get("type") != "function_call":
            return NONE
        call = self._call(obj, item.get("id"))
        call["id"] = item.get("call_id") or item.get("id")
        call["name"] = item.get("name") or ""
        if item.get("arguments"):
            call["args"].append(item["arguments"])
        return CALL

    def _arguments(self, obj: dict[str, Any]) -> int:
        delta = obj.get("delta")
        if not isinstance(delta, str) or not delta:
            return NONE
        self._call(obj, obj.get("item_id"))["args"].append(delta)
        return CALL

    def _arguments_done(self, obj: dict[str, Any]) -> int:
        text = obj.get("arguments")
        if isinstance(text, str):
            self._call(obj, obj.get("item_id"))["args"] = [text]
        return NONE

    def _item_done(self, obj: dict[str, Any]) -> int:
        item = obj.get("item")
        if isinstance(item, dict) and item.get("type") == "function_call":
            self._final_call(self._call(obj, item.get("id")), item)
        return NONE

    def _completed(self, obj: dict[str, Any]) -> int:
        response = obj.get("response")
        if isinstance(response, dict):
            self.usage = response.get("usage") or self.usage
            self.finish_reason = _finish(response, bool(self._calls))
        self.done = True
        return NONE

    def _failed(self, obj: dict[str, Any]) -> int:
        response = obj.get("response")
        failure = response.get("error") if isinstance(response, dict) else None
        self.error = error_text(failure) if failure else "response.failed"
        self.done = True
        return NONE

    def _error(self, obj: dict[str, Any]) -> int:
        inner = obj.get("error")
        self.error = error_text(inner if isinstance(inner, dict) else obj)
        return NONE

    def _call(self, obj: dict[str, Any], item_id: Any) -> dict[str, Any]:
        """The call an event is about (by item id, else output index), created if new."""
        index = self._by_item.get(item_id) if isinstance(item_id, str) else None
        out = obj.get("output_index")
        if index is None and isinstance(out, int):
            index = self._by_index.get(out)
        if index is None:
            index = len(self._calls)
            self._calls[index] = {"id": None, "type": "function", "name": "", "args": []}
        if isinstance(item_id, str):
            self._by_item[item_id] = index
        if isinstance(out, int):
            self._by_index[out] = index
        return self._calls[index]

    @staticmethod
    def _final_call(call: dict[str, Any], item: dict[str, Any]) -> None:
        call["id"] = item.get("call_id") or call["id"] or item.get("id")
        call["name"] = item.get("name") or call["name"]
        if isinstance(item.get("arguments"), str):
            call["args"] = [item["arguments"]]

    # -- non-streaming ---------------------------------------------------------------
    def add_completion(self, obj: Any) -> None:
        """Accumulate a whole non-streaming `response` object."""
        if not isinstance(obj, dict):
            self.error = "response is not a JSON object"
            return
        if obj.get("error") or obj.get("status") == "failed":
            self.error = error_text(obj) if obj.get("error") else "response failed"
            return
        for item in obj.get("output") or []:
            if isinstance(item, dict):
                self._add_item(item)
        self.usage = obj.get("usage") or None
        self.finish_reason = _finish(obj, bool(self._calls))
        self.done = True

    def _add_item(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "function_call":
            self._final_call(self._call({}, item.get("id")), item)
            return
        target = self._reasoning if kind == "reasoning" else self._content
        for part in (item.get("content") or []) + (item.get("summary") or []):
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                target.append(part["text"])

    # -- results ---------------------------------------------------------------------
    @property
    def completion_tokens(self) -> int | None:
        value = self.usage.get("output_tokens") if self.usage else None
        return value if isinstance(value, int) else None

    @property
    def prompt_tokens(self) -> int | None:
        value = self.usage.get("input_tokens") if self.usage else None
        return value if isinstance(value, int) else None


ResponsesStream.HANDLERS = {
    "response.output_text.delta": ResponsesStream._text,
    "response.refusal.delta": ResponsesStream._text,
    "response.reasoning_text.delta": ResponsesStream._thought,
    "response.reasoning.delta": ResponsesStream._thought,
    "response.reasoning_summary_text.delta": ResponsesStream._thought,
    "response.output_item.added": ResponsesStream._item_added,
    "response.function_call_arguments.delta": ResponsesStream._arguments,
    "response.function_call_arguments.done": ResponsesStream._arguments_done,
    "response.output_item.done": ResponsesStream._item_done,
    "response.completed": ResponsesStream._completed,
    "response.incomplete": ResponsesStream._completed,
    "response.failed": ResponsesStream._failed,
    "error": ResponsesStream._error,
}
