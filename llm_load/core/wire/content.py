"""Helpers shared by the request builders of the non-chat APIs: the text of a chat message's
content (a string or a list of parts), a tool call's arguments as an object, and chat's extra
body fields carried over (`tools` / `tool_choice` converted to the API's own shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orjson import loads as json_loads

__all__ = ["add_extra", "arguments_object", "prompt_text", "text_of"]


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


def add_extra(
    body: dict[str, Any],
    extra: dict[str, Any] | None,
    tools: Callable[[Any], Any],
    tool_choice: Callable[[Any], Any],
) -> dict[str, Any]:
    """`body` with chat's `extra` fields: `tools` and `tool_choice` through the API's own
    converters, every other field as it is."""
    for key, value in (extra or {}).items():
        if key == "tools":
            body["tools"] = tools(value)
        elif key == "tool_choice":
            body["tool_choice"] = tool_choice(value)
        else:
            body[key] = value
    return body
