"""The mock's prefix cache (``--prompt-tokens-details``): deterministic cache hits to check
``cached_tokens`` against.

Like vLLM's, it caches whole blocks of 16 tokens (64 characters with the mock's tokenizer,
:mod:`llm_load.mock.tokenize`): a request's prompt text (its message contents joined) is cut
into blocks, each keyed by its content and every block before it; the leading blocks seen
before are its cached tokens, and all its blocks are remembered (up to ``max_blocks``, then
forgotten at once). The count goes into ``usage.prompt_tokens_details.cached_tokens``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BLOCK_TOKENS", "PrefixCache", "prompt_text", "with_cached"]

BLOCK_TOKENS = 16
BLOCK_CHARS = BLOCK_TOKENS * 4


def prompt_text(messages: list[Any]) -> str:
    """The message contents joined (string contents and the text of content parts)."""
    texts: list[str] = []
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        parts = content if isinstance(content, list) else [{"text": content}]
        texts += (
            p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return "".join(texts)


class PrefixCache:
    """Blocks seen so far; `serve(text)` is the cached tokens of a prompt (then cached)."""

    def __init__(self, max_blocks: int = 1_000_000) -> None:
        self.max_blocks = max_blocks
        self._blocks: set[int] = set()

    def serve(self, text: str) -> int:
        if len(self._blocks) > self.max_blocks:
            self._blocks.clear()
        key, hits, hitting = 0, 0, True
        for start in range(0, len(text) - BLOCK_CHARS + 1, BLOCK_CHARS):
            key = hash((key, text[start : start + BLOCK_CHARS]))
            hitting = hitting and key in self._blocks
            hits += hitting
            self._blocks.add(key)
        return hits * BLOCK_TOKENS


def with_cached(usage: dict[str, Any] | None, cached: int | None) -> dict[str, Any] | None:
    """`usage` with `prompt_tokens_details.cached_tokens` (when the cache is on)."""
    if usage is None or cached is None:
        return usage
    return {**usage, "prompt_tokens_details": {"cached_tokens": cached}}
