"""``POST /tokenize``: the mock's deterministic tokenizer, the one behind its ``usage``.

A text is one BOS token plus one token per whole 4 characters (``len(text) // 4 + 1``), so
the count of the messages' joined contents is exactly the chat ``usage.prompt_tokens`` the
mock reports (no chat template). Answers in the shape of the request: vLLM's
``{"model", "prompt"}`` → ``{"count", "tokens", "max_model_len"}``, llama.cpp's
``{"content"}`` → ``{"tokens"}``. Token ids are the characters' code points summed per piece.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_load.mock.chat import load_object
from llm_load.mock.payload import HttpError

if TYPE_CHECKING:
    from llm_load.mock.server import MockProtocol, Request

__all__ = ["BOS", "count_tokens", "tokenize", "tokenize_route"]

BOS = 2
CHARS_PER_TOKEN = 4


def tokenize(text: str) -> list[int]:
    """BOS, then one id per whole 4 characters."""
    pieces = range(0, len(text) - CHARS_PER_TOKEN + 1, CHARS_PER_TOKEN)
    return [BOS, *(sum(map(ord, text[i : i + CHARS_PER_TOKEN])) for i in pieces)]


def count_tokens(chars: int) -> int:
    """The token count of a text of `chars` characters (the mock's `prompt_tokens`)."""
    return chars // CHARS_PER_TOKEN + 1


def tokenize_route(max_model_len: int) -> Any:
    """The route handler answering both request shapes."""

    def route(conn: MockProtocol, req: Request) -> None:
        data = load_object(req.body)
        text = data.get("prompt", data.get("content"))
        if not isinstance(text, str):
            conn.send_error(HttpError(400, "expected 'prompt' (vLLM) or 'content' (llama.cpp)"))
            return
        tokens = tokenize(text)
        if "prompt" in data:
            conn.send_json({"count": len(tokens), "tokens": tokens, "max_model_len": max_model_len})
        else:
            conn.send_json({"tokens": tokens})

    return route
