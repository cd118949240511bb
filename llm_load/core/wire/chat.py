"""OpenAI chat-completion request bodies and the streamed-response accumulator.

`ChatStream.add(payload, t_s)` takes one SSE data payload (bytes) and the time it arrived
(seconds since the request started, measured by the caller) and accumulates content,
reasoning (`reasoning_content` or `reasoning`), tool-call deltas merged by index, the
finish reason, usage and in-stream error objects. A *token chunk* is one that carries
content, reasoning or a tool-call delta; its arrival time is kept for TTFT and ITL, and
the arrival times of chunks with a tool-call delta are kept apart (`tool_call_times_s`), and
the first chunk with content or a tool call (not only reasoning) is `first_answer_s` (TTFO).
`ChatStream.add_completion(obj)` does the same for a non-streaming response body (its
message's `reasoning_content` / `reasoning` included).
`server_timings`: the server's own per-request timings sent with the usage (llama.cpp
`timings`, vLLM `metrics`), or None.
"""

from __future__ import annotations

from typing import Any

from orjson import loads as json_loads  # 3-5x faster than json on small chunks (a dependency)

from llm_load.core.wire.errors import error_text

__all__ = ["ChatStream", "chat_request_body", "exact_output_fields", "json_loads"]

DONE = b"[DONE]"


def chat_request_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    max_tokens: int | None,
    temperature: float | None,
    stream: bool,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an OpenAI chat-completions body; streaming asks for the usage chunk."""
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if stream:
        body["stream_options"] = {"include_usage": True}
    if extra:
        body.update(extra)
    return body


def exact_output_fields(max_tokens: int | None) -> dict[str, Any]:
    """Body fields asking for exactly `max_tokens` output tokens: `ignore_eos` (vLLM,
    llama.cpp, SGLang) and `min_tokens` (vLLM, SGLang); none without a cap."""
    if max_tokens is None:
        return {}
    return {"ignore_eos": True, "min_tokens": max_tokens}


class ChatStream:
    """Accumulates one chat completion, streamed (`add`) or not (`add_completion`)."""

    __slots__ = (
        "_answered",
        "_call_delta",
        "_calls",
        "_content",
        "_reasoning",
        "done",
        "error",
        "finish_reason",
        "first_answer_s",
        "invalid_chunks",
        "invalid_example",
        "reasoning_chunks",
        "role_seen",
        "server_timings",
        "token_times_s",
        "tool_call_times_s",
        "usage",
    )

    def __init__(self) -> None:
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}
        self.token_times_s: list[float] = []
        self.tool_call_times_s: list[float] = []
        self._call_delta = False
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.error: str | None = None
        self.done = False
        self.role_seen = False
        self.invalid_chunks = 0
        self.invalid_example: str | None = None
        self.server_timings: Any = None  # llama.cpp `timings` / vLLM `metrics`, if sent
        self._answered = False  # a content or tool-call token has come (not only reasoning)
        self.first_answer_s: float | None = None  # its arrival: TTFO
        self.reasoning_chunks = 0  # chunks carrying reasoning only

    # -- streaming -------------------------------------------------------------------
    def add(self, payload: bytes, t_s: float) -> None:
        """Accumulate one SSE data payload received `t_s` seconds after the request start."""
        if payload == DONE:
            self.done = True
            return
        try:
            obj = json_loads(payload)
        except ValueError:
            self._invalid(payload)
            return
        if not isinstance(obj, dict):
            self._invalid(payload)
            return
        if obj.get("error"):
            self.error = error_text(obj)
            return
        usage = obj.get("usage")
        if usage:
            self.usage = usage
            self.server_timings = obj.get("timings") or obj.get("metrics")  # on the usage chunk
        choices = obj.get("choices")
        if choices and self._add_choice(choices[0]):
            self.token_times_s.append(t_s)
            if self._answered and self.first_answer_s is None:
                self.first_answer_s = t_s
            if self._call_delta:
                self._call_delta = False
                self.tool_call_times_s.append(t_s)

    def has_token(self) -> bool:
        """Whether the first token (or the end of the stream) is in."""
        return bool(self.token_times_s) or self.done

    def _add_choice(self, choice: dict[str, Any]) -> bool:
        """Merge one streamed choice; True when it carried a token."""
        finish = choice.get("finish_reason")
        if finish:
            self.finish_reason = finish
        delta = choice.get("delta")
        if not delta:
            return False
        return self._add_message(delta)

    def _add_message(self, msg: dict[str, Any]) -> bool:
        carried = False
        content = msg.get("content")
        if content:
            self._content.append(content)
            carried = True
        reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        if reasoning:
            self._reasoning.append(reasoning)
            self.reasoning_chunks += not carried
            carried = True
        calls = msg.get("tool_calls")
        if calls:
            for call in calls:
                self._merge_call(call)
            carried = self._call_delta = True
        self._answered = self._answered or bool(content or calls)
        if msg.get("role"):
            self.role_seen = True
        return carried

    def _merge_call(self, delta: dict[str, Any]) -> None:
        """Merge a tool-call delta by index (id/name arrive first, arguments in fragments)."""
        index = delta.get("index", len(self._calls))
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = {"id": None, "type": "function", "name": "", "args": []}
        if delta.get("id"):
            call["id"] = delta["id"]
        fn = delta.get("function") or {}
        if fn.get("name"):
            call["name"] += fn["name"]
        if fn.get("arguments"):
            call["args"].append(fn["arguments"])

    def _invalid(self, payload: bytes) -> None:
        self.invalid_chunks += 1
        if self.invalid_example is None:
            self.invalid_example = payload[:200].decode("utf-8", "replace")

    # -- non-streaming ---------------------------------------------------------------
    def add_completion(self, obj: Any) -> None:
        """Accumulate a whole non-streaming `chat.completion` object."""
        if not isinstance(obj, dict):
            self.error = "response is not a JSON object"
            return
        if obj.get("error"):
            self.error = error_text(obj)
            return
        self.usage = obj.get("usage") or None
        self.server_timings = obj.get("timings") or obj.get("metrics")
        choices = obj.get("choices") or []
        if not choices:
            self.error = "response has no choices"
            return
        self.finish_reason = choices[0].get("finish_reason")
        self._add_message(choices[0].get("message") or {})
        self.done = True

    # -- results ---------------------------------------------------------------------
    @property
    def content(self) -> str:
        return "".join(self._content)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """Merged tool calls in index order, in the OpenAI message shape."""
        return [
            {
                "id": call["id"],
                "type": call["type"],
                "function": {"name": call["name"], "arguments": "".join(call["args"])},
            }
            for _, call in sorted(self._calls.items())
        ]

    @property
    def carried(self) -> bool:
        """Whether the response carried anything: a token, content or a tool call."""
        return bool(self.token_times_s or self._content or self._reasoning or self._calls)

    @property
    def token_chunks(self) -> int:
        """Number of chunks that carried a token (content, reasoning or tool call)."""
        return len(self.token_times_s)

    @property
    def completion_tokens(self) -> int | None:
        """Output tokens as reported by the server's usage, or None."""
        if self.usage is None:
            return None
        value = self.usage.get("completion_tokens")
        return value if isinstance(value, int) else None

    @property
    def reasoning_tokens(self) -> int | None:
        """`usage.completion_tokens_details.reasoning_tokens`, or None when not reported."""
        details = (self.usage or {}).get("completion_tokens_details")
        value = details.get("reasoning_tokens") if isinstance(details, dict) else None
        return value if isinstance(value, int) else None

    @property
    def prompt_tokens(self) -> int | None:
        """Input tokens as reported by the server's usage, or None."""
        if self.usage is None:
            return None
        value = self.usage.get("prompt_tokens")
        return value if isinstance(value, int) else None
