"""The mock's reasoning phase (``--reasoning-tokens N``): N reasoning tokens before the answer.

Streamed, each reasoning token is a ``{"reasoning_content": "think "}`` delta (llama.cpp's
and older vLLM's field; vLLM 0.32 says ``reasoning``), then the answer's content tokens;
``max_tokens`` caps both together, as real servers do. Not streamed, the message carries
the whole thinking in ``reasoning_content`` next to the answer's ``content`` (``null`` when
the cap left no answer). ``usage.completion_tokens`` counts both and
``usage.completion_tokens_details.reasoning_tokens`` the reasoning ones, so a client's TTFO
(first answer token) is the truth's token offset N.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from llm_load.mock import payload

if TYPE_CHECKING:
    from llm_load.mock.chat import ChatJob

__all__ = ["REASONING_DELTA", "add_reasoning", "reasoning_message", "with_reasoning"]

REASONING_TOKEN = "think "
_TAIL = b',"logprobs":null,"finish_reason":null}]}\n\n'
REASONING_DELTA = b'{"reasoning_content":' + orjson.dumps(REASONING_TOKEN) + b"}" + _TAIL


def add_reasoning(job: ChatJob, tokens: int, cap: int | None) -> int:
    """Put `tokens` reasoning chunks before `job`'s answer; the reasoning tokens sent."""
    if job.tool_calls is not None or tokens <= 0:
        return 0
    total = job.n + tokens if cap is None else min(cap, job.n + tokens)
    reasoning = min(tokens, total)
    answer = total - reasoning
    content = payload.TOKEN_DELTAS
    job.deltas = (REASONING_DELTA,) * reasoning + tuple(
        content[i % len(content)] for i in range(answer)
    )
    job.n = total
    return reasoning


def with_reasoning(usage: dict[str, Any] | None, reasoning: int) -> dict[str, Any] | None:
    """`usage` with `completion_tokens_details.reasoning_tokens` (when there were any)."""
    if usage is None or not reasoning:
        return usage
    return {**usage, "completion_tokens_details": {"reasoning_tokens": reasoning}}


def reasoning_message(job: ChatJob) -> dict[str, Any]:
    """The non-streamed message of a reply that reasoned: the thinking, then the answer."""
    answer = job.n - job.reasoning
    return {
        "role": "assistant",
        "content": payload.content(answer) if answer else None,
        "reasoning_content": REASONING_TOKEN * job.reasoning,
    }
