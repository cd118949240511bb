"""Servers' own tokenize endpoints: request bodies and how to read a token count back.

Tried in order at the server's root (`/tokenize`, beside `/v1`) until one answers with a
count: vLLM `{"model", "prompt"}` → `{"count", "tokens", ...}` and llama.cpp
`{"content"}` → `{"tokens": [...]}` (both checked against the real servers); TGI
`{"inputs"}` → a list of tokens and SGLang (vLLM's shape) from their documentation,
unverified here. A count includes whatever special tokens (BOS) the server adds by default:
`core.scenario.tokens` only ever uses differences of counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["TOKENIZE_SHAPES", "TokenizeShape", "token_count"]

TokenizeShape = tuple[str, Callable[[str, str], dict[str, Any]]]  # (name, (model, text) -> body)

TOKENIZE_SHAPES: tuple[TokenizeShape, ...] = (
    ("vllm", lambda model, text: {"model": model, "prompt": text}),
    ("llama.cpp", lambda model, text: {"content": text}),
    ("tgi", lambda model, text: {"inputs": text}),
)


def token_count(doc: Any) -> int | None:
    """The token count of a tokenize answer (`count`, a `tokens` list, or a bare list)."""
    if isinstance(doc, list):
        return len(doc)
    if not isinstance(doc, dict):
        return None
    count = doc.get("count")
    if isinstance(count, int) and not isinstance(count, bool):
        return count
    tokens = doc.get("tokens")
    return len(tokens) if isinstance(tokens, list) else None
