"""Legacy OpenAI completions (`/v1/completions`): request body and stream accumulator.

The body sends `prompt` (the chat messages' texts, one per line), `max_tokens`,
`temperature` and `stream` (with `stream_options.include_usage`, which vLLM and llama.cpp
honour). A streamed chunk carries `choices[0].text`; usage and `[DONE]` are as in chat, so
`CompletionStream` is a `ChatStream` that reads `text` instead of a `delta`.
"""

from __future__ import annotations

from typing import Any

from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.content import prompt_text
from llm_load.core.wire.errors import error_text

__all__ = ["CompletionStream", "completions_request_body"]


def completions_request_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    max_tokens: int | None,
    temperature: float | None,
    stream: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a `/v1/completions` body; `extra` adds fields (chat-only `tools` are dropped)."""
    body: dict[str, Any] = {"model": model, "prompt": prompt_text(messages), "stream": stream}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream_options"] = {"include_usage": True}
    if extra:
        body.update({k: v for k, v in extra.items() if k not in ("tools", "tool_choice")})
    return body


class CompletionStream(ChatStream):
    """Accumulates one text completion, streamed (`add`) or not (`add_completion`)."""

    __slots__ = ()

    def _add_choice(self, choice: dict[str, Any]) -> bool:
        finish = choice.get("finish_reason")
        if finish:
            self.finish_reason = finish
        text = choice.get("text")
        if text:
            self._content.append(text)
            return True
        return False

    def add_completion(self, obj: Any) -> None:
        """Accumulate a whole non-streaming `text_completion` object."""
        if not isinstance(obj, dict):
            self.error = "response is not a JSON object"
            return
        if obj.get("error"):
            self.error = error_text(obj)
            return
        self.usage = obj.get("usage") or None
        choices = obj.get("choices") or []
        if not choices:
            self.error = "response has no choices"
            return
        self._add_choice(choices[0])
        self.done = True
