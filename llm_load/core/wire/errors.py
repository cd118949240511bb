"""Turn a server's error response into the server's own message, whatever its shape.

Servers answer errors as `{"error": {"message": ...}}` (OpenAI, vLLM, llama.cpp),
`{"error": "..."}`, `{"detail": ...}` (FastAPI), `{"message": ...}`, plain text, HTML or
nothing at all. `body_message` never raises and returns at most `MAX_MESSAGE_CHARS`.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

__all__ = ["MAX_MESSAGE_CHARS", "body_message", "error_text"]

MAX_MESSAGE_CHARS = 500
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _clip(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    if len(text) > MAX_MESSAGE_CHARS:
        return text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def _stringify(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def error_text(obj: Any) -> str:
    """The message inside a parsed JSON error object (any common shape)."""
    if isinstance(obj, dict):
        for key in ("error", "detail", "message", "msg"):
            if key not in obj or obj[key] in (None, ""):
                continue
            inner = obj[key]
            if isinstance(inner, dict):
                return error_text(inner) if _has_message(inner) else _clip(_stringify(inner))
            if isinstance(inner, list) and inner:
                return _clip("; ".join(error_text(item) for item in inner))
            return _clip(_stringify(inner))
    return _clip(_stringify(obj))


def _has_message(obj: dict[str, Any]) -> bool:
    return any(obj.get(key) for key in ("error", "detail", "message", "msg"))


def body_message(body: bytes | str | None) -> str:
    """The server's own message from an HTTP error body; never raises."""
    if not body:
        return "(empty body)"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    stripped = text.strip()
    if stripped[:1] in ("{", "[", '"'):
        try:
            return error_text(json.loads(stripped))
        except ValueError:
            pass
    if "<" in stripped and ">" in stripped:
        title = _TITLE.search(stripped)
        found = title.group(1) if title else _TAG.sub(" ", stripped)
        return _clip(html.unescape(found)) or "(HTML body without text)"
    return _clip(stripped) or "(blank body)"
