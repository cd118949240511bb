"""One LLM call's outcome (`RequestRecord`) and the derived per-request metrics.

Definitions (all from the client's clock, seconds since the request was sent):
- TTFT: arrival of the first chunk carrying content, reasoning or a tool call (not the
  headers, not a role-only chunk). Streaming only.
- TTFO: arrival of the first chunk carrying content or a tool call: the answer, after any
  reasoning (equal to TTFT without reasoning). Reasoning tokens come from
  `usage.completion_tokens_details.reasoning_tokens`, else reasoning chunks (estimated).
- ITL: each gap between consecutive token-carrying chunks (`itl_ms_mean`: their mean).
- TPOT: (E2E - TTFT) / (output_tokens - 1), when at least two tokens came back.
- E2E: from sending the request to the end of the response.
- Output tokens/s per request: output_tokens / E2E.
- Tool calls (streaming): time to the first and to the last tool-call delta, and tool-call
  chunks per second between them (about one argument token per chunk).
- Server timings: the server's own TTFT and queue time when its response says them
  (llama.cpp `timings`, vLLM `metrics`), and `outside_ms` = TTFT - server TTFT.
Output tokens come from the server's `usage` when it sends one; otherwise they are
estimated (token-carrying chunks when streaming, characters / 4 when not) and flagged.
Prompt tokens served from the server's prefix cache come from its usage details too, else
from llama.cpp's `timings.cache_n`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from llm_load.core.server.timings import server_cached_tokens, server_times
from llm_load.core.wire.chat import ChatStream

__all__ = ["RequestRecord", "cached_tokens", "estimate_tokens", "record_from_stream"]

CHARS_PER_TOKEN = 4


def estimate_tokens(chars: int) -> int:
    """Rough token count of a text of `chars` characters (about 4 characters a token)."""
    return max(1, round(chars / CHARS_PER_TOKEN)) if chars else 0


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """The outcome of one LLM call; times are seconds, token counts are tokens."""

    model: str
    started_at: float  # wall-clock epoch seconds when the request was sent
    e2e_s: float
    ttft_s: float | None = None
    token_times_s: tuple[float, ...] = ()
    output_tokens: int = 0
    input_tokens: int = 0
    usage_reported: bool = False
    finish_reason: str | None = None
    error_kind: str | None = None
    error_message: str | None = None
    cancelled: bool = False
    connection_retries: int = 0  # stale keep-alive connections retried before a response
    tool_grade: str | None = None  # a tool case's grade ("correct" or an error bucket)
    tool_call_times_s: tuple[float, ...] = ()  # arrivals of chunks with a tool-call delta
    server_ttft_ms: float | None = None  # the server's own TTFT (llama.cpp / vLLM timings)
    server_queue_ms: float | None = None  # the server's own queue time, when it says

    @property
    def outside_ms(self) -> float | None:
        """Client TTFT minus the server's: frontend, tokenisation, network and client."""
        if self.ttft_s is None or self.server_ttft_ms is None:
            return None
        return self.ttft_s * 1000.0 - self.server_ttft_ms

    requested_input_tokens: int | None = None  # prompt tokens asked for (synthetic prompts)
    cached_tokens: int | None = None  # prompt tokens served from the prefix cache (reported)
    ttfo_s: float | None = None  # first answer (content / tool call) token, after reasoning
    reasoning_tokens: int | None = None  # None: no reasoning seen
    reasoning_estimated: bool = False  # counted from reasoning chunks (usage did not say)
    turn: int | None = None  # 1-based turn of a multi-turn conversation (None: single)

    @property
    def ttfo_ms(self) -> float | None:
        return None if self.ttfo_s is None else self.ttfo_s * 1000.0

    @property
    def input_drift(self) -> int | None:
        """Reported minus requested prompt tokens (None: nothing requested or reported)."""
        if self.requested_input_tokens is None or not self.usage_reported or not self.ok:
            return None
        return self.input_tokens - self.requested_input_tokens

    @property
    def ok(self) -> bool:
        return self.error_kind is None and not self.cancelled

    @property
    def ttft_ms(self) -> float | None:
        return None if self.ttft_s is None else self.ttft_s * 1000.0

    @property
    def e2e_ms(self) -> float:
        return self.e2e_s * 1000.0

    @property
    def itl_ms(self) -> list[float]:
        times = self.token_times_s
        return [(b - a) * 1000.0 for a, b in pairwise(times)]

    @property
    def itl_ms_mean(self) -> float | None:
        """The request's mean inter-token latency (None with fewer than two token chunks)."""
        times = self.token_times_s
        if len(times) < 2:
            return None
        return (times[-1] - times[0]) * 1000.0 / (len(times) - 1)

    @property
    def tpot_ms(self) -> float | None:
        if self.ttft_s is None or self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) * 1000.0 / (self.output_tokens - 1)

    @property
    def tool_first_call_ms(self) -> float | None:
        """Time to the first tool-call delta (streaming)."""
        times = self.tool_call_times_s
        return times[0] * 1000.0 if times else None

    @property
    def tool_call_ms(self) -> float | None:
        """Time to the last tool-call delta: the call(s) complete (streaming)."""
        times = self.tool_call_times_s
        return times[-1] * 1000.0 if times else None

    @property
    def tool_args_tokens_per_s(self) -> float | None:
        """Tool-call chunks (about one token each) per second after the first one."""
        times = self.tool_call_times_s
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def output_tokens_per_s(self) -> float | None:
        if self.e2e_s <= 0 or self.output_tokens == 0:
            return None
        return self.output_tokens / self.e2e_s


def cached_tokens(usage: dict[str, Any] | None) -> int | None:
    """Prompt tokens the usage says came from the server's prefix cache, in each API's
    words: `prompt_tokens_details.cached_tokens` (chat and completions: vLLM with
    --enable-prompt-tokens-details, llama.cpp, OpenAI), `input_tokens_details.cached_tokens`
    (Responses), `cache_read_input_tokens` (Messages); None when it does not say."""
    usage = usage or {}
    for key in ("prompt_tokens_details", "input_tokens_details"):
        details = usage.get(key)
        if isinstance(details, dict) and _count(value := details.get("cached_tokens")):
            return value
    value = usage.get("cache_read_input_tokens")
    return value if _count(value) else None


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _stream_error(stream: ChatStream, streamed: bool) -> tuple[str, str] | None:
    """The failure a well-framed response still carries, if any."""
    if stream.error is not None:
        return "stream_error", stream.error
    if stream.invalid_chunks:
        return (
            "invalid_chunk",
            f"{stream.invalid_chunks} unparseable chunk(s), e.g. {stream.invalid_example!r}",
        )
    if streamed and not stream.done and stream.finish_reason is None:
        return "incomplete_stream", "stream ended without finish_reason or [DONE]"
    if not stream.carried:
        return "empty_response", "the response carried no content, reasoning or tool call"
    if streamed and stream.finish_reason is None:  # [DONE] after tokens, but no finish_reason
        return "incomplete_stream", "stream reached [DONE] without a finish_reason"
    return None


def record_from_stream(
    stream: ChatStream,
    *,
    model: str,
    started_at: float,
    e2e_s: float,
    streamed: bool,
    prompt_chars: int,
    failure: tuple[str, str] | None = None,
    cancelled: bool = False,
    connection_retries: int = 0,
    tool_grade: str | None = None,
    requested_input_tokens: int | None = None,
    turn: int | None = None,
) -> RequestRecord:
    """Build the record of a call; `failure` (kind, message) comes from HTTP or transport."""
    if failure is None and not cancelled:
        failure = _stream_error(stream, streamed)
    reported = stream.completion_tokens
    if reported is not None:
        output = reported
    elif streamed:
        output = stream.token_chunks
    else:
        output = estimate_tokens(len(stream.content) + len(stream.reasoning))
    times = tuple(stream.token_times_s) if streamed else ()
    server_ttft_ms, server_queue_ms = server_times(stream.server_timings)
    return RequestRecord(
        model=model,
        started_at=started_at,
        e2e_s=e2e_s,
        ttft_s=times[0] if times else None,
        token_times_s=times,
        output_tokens=output,
        input_tokens=stream.prompt_tokens or estimate_tokens(prompt_chars),
        usage_reported=reported is not None,
        finish_reason=stream.finish_reason,
        error_kind=failure[0] if failure else None,
        error_message=failure[1] if failure else None,
        cancelled=cancelled,
        connection_retries=connection_retries,
        tool_grade=tool_grade if failure is None and not cancelled else None,
        tool_call_times_s=tuple(stream.tool_call_times_s) if streamed else (),
        server_ttft_ms=server_ttft_ms,
        server_queue_ms=server_queue_ms,
        requested_input_tokens=requested_input_tokens,
        cached_tokens=_cached(stream),
        ttfo_s=stream.first_answer_s if streamed else None,
        turn=turn,
        **_reasoning(stream, streamed),
    )


def _cached(stream: ChatStream) -> int | None:
    """Cached prompt tokens from usage, else llama.cpp's `timings.cache_n`."""
    reported = cached_tokens(stream.usage)
    return reported if reported is not None else server_cached_tokens(stream.server_timings)


def _reasoning(stream: ChatStream, streamed: bool) -> dict[str, Any]:
    """Reasoning tokens from usage details, else estimated: the reasoning chunks of a
    stream, the reasoning text's length (~4 characters a token) of a whole message."""
    reported = stream.reasoning_tokens
    if reported is not None:
        return {"reasoning_tokens": reported or None}
    estimate = stream.reasoning_chunks if streamed else estimate_tokens(len(stream.reasoning))
    if estimate:
        return {"reasoning_tokens": estimate, "reasoning_estimated": True}
    return {}
