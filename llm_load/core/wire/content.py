"""Helpers shared by the request builders of the non-chat APIs: the text of a chat message's
content (a string or a list of parts), and a tool call's arguments as an object."""

from __future__ import annotations

from typing import Any

from orjson import loads as json_loads

__all__ = ["arguments_object", "prompt_text", "text_of"]


def text_of(content: Any) -> str:
    """The text of a chat `content`: the string itself, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """One prompt string from chat messages: their texts, one per line."""
    return "\n".join(t for t in (text_of(m.get("content")) for m in messages) if t)


def arguments_object(text: Any) -> Any:
    """A tool call's arguments (JSON text) as a value; `{}` for empty text, and the text
    itself when it is not JSON (the server then says what it thinks of it)."""
    if not isinstance(text, str):
        return text if text is not None else {}
    if not text.strip():
        return {}
    try:
        return json_loads(text)
    except ValueError:
        return text
