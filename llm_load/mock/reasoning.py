"""The mock's reasoning phase (``--reasoning-tokens N``): N reasoning chunks before the answer.

Each reasoning token is streamed as ``{"reasoning_content": "think "}`` (vLLM's and
llama.cpp's field), then the answer's content tokens; ``max_tokens`` caps both together, as
real servers do. ``usage.completion_tokens`` counts both and
``usage.completion_tokens_details.reasoning_tokens`` the reasoning ones, so a client's TTFO
(first answer token) is the truth's token offset N.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from llm_load.mock import payload

if TYPE_CHECKING:
    from llm_load.mock.chat import ChatJob

__all__ = ["REASONING_DELTA", "add_reasoning", "with_reasoning"]

_TAIL = b',"logprobs":null,"finish_reason":null}]}\n\n'
REASONING_DELTA = b'{"reasoning_content":' + orjson.dumps("think ") + b"}" + _TAIL


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
