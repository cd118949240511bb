"""OpenAI embeddings (`/v1/embeddings`): request body and response accumulator.

Never streamed: the body sends `input` (the prompt text, or a batch: `batch_input`) and
`encoding_format: "float"`; `max_tokens`, `temperature` and `stream` do not apply. The
response's `data` must hold one vector per input (indices 0..n-1) of one dimension (a
`base64` vector counts 4 bytes a dimension); anything else is the accumulator's `error`.
`inputs` and `dimension` are what came back; output tokens are 0 (as reported: embeddings
produce none), input tokens from `usage.prompt_tokens`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.content import prompt_text
from llm_load.core.wire.errors import error_text

__all__ = ["EmbeddingsStream", "batch_input", "embeddings_request_body"]


def embeddings_request_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    max_tokens: int | None = None,
    temperature: float | None = None,
    stream: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a `/v1/embeddings` body (sampling settings ignored; chat-only tools dropped)."""
    body: dict[str, Any] = {"model": model, "input": prompt_text(messages)}
    body["encoding_format"] = "float"
    if extra:
        body.update({k: v for k, v in extra.items() if k not in ("tools", "tool_choice")})
    return body


def batch_input(text: str, batch: int) -> str | list[str]:
    """`input` of `batch` texts: the text alone for 1, else numbered copies (distinct inputs,
    so no server can answer a batch from one cached vector)."""
    return text if batch <= 1 else [f"{i + 1}. {text}" for i in range(batch)]


def _dimension(vector: Any) -> int | None:
    if isinstance(vector, list):
        return len(vector)
    if isinstance(vector, str):
        try:
            return len(base64.b64decode(vector, validate=True)) // 4
        except (binascii.Error, ValueError):
            return None
    return None


class EmbeddingsStream(ChatStream):
    """Accumulates one embeddings response (`add_completion`); `add` counts a payload as invalid."""

    __slots__ = ("dimension", "inputs")

    def __init__(self) -> None:
        super().__init__()
        self.inputs = 0  # vectors received
        self.dimension: int | None = None  # their common length

    def add(self, payload: bytes, t_s: float) -> None:
        """Embeddings are not streamed: an SSE payload is not an answer."""
        self._invalid(payload)

    def add_completion(self, obj: Any) -> None:
        """Accumulate a whole `list` of embeddings, checking count, indices and dimension."""
        if not isinstance(obj, dict):
            self.error = "response is not a JSON object"
            return
        if obj.get("error"):
            self.error = error_text(obj)
            return
        data = obj.get("data")
        if not isinstance(data, list) or not data:
            self.error = "response has no embeddings"
            return
        self.usage = obj.get("usage") or None
        self.error = self._check(data)
        self.done = self.error is None

    def _check(self, data: list[Any]) -> str | None:
        dims, indices = set(), []
        for i, item in enumerate(data):
            dim = _dimension(item.get("embedding")) if isinstance(item, dict) else None
            if not dim:
                return f"embedding {i} is not a vector"
            dims.add(dim)
            indices.append(item.get("index", i))
        if len(dims) > 1:
            return f"embeddings of different dimensions: {sorted(dims)}"
        if sorted(indices) != list(range(len(data))):
            return f"embedding indices are not 0..{len(data) - 1}: {indices[:8]}"
        self.inputs, self.dimension = len(data), dims.pop()
        return None

    @property
    def carried(self) -> bool:
        return self.inputs > 0

    @property
    def completion_tokens(self) -> int | None:
        return 0 if self.usage is not None else None
