"""The mock's reading of the other APIs' requests: each one turned into the chat request it
amounts to, so the chat machinery (model lookup, truth, tool cases, faults, slots) serves it.

Responses: `input` (a string, or message / `function_call` / `function_call_output` items),
`instructions`, `max_output_tokens`, tools `{"type": "function", "name", "parameters"}`.
Messages: `max_tokens` (required, as Anthropic's API), `system`, turns with `text`,
`tool_use` and `tool_result` blocks, tools `{"name", "input_schema"}`, `tool_choice`
`auto`/`any`/`none`/`tool`. Completions: `prompt` (a string or a list of them). Embeddings:
`input` (a string or a non-empty list of strings). Shape errors are 400s.
"""

from __future__ import annotations

from typing import Any

import orjson

from llm_load.mock.payload import HttpError

__all__ = ["completions_chat", "embedding_inputs", "messages_chat", "responses_chat"]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _chat(data: dict[str, Any], messages: list[dict[str, Any]], cap_key: str) -> dict[str, Any]:
    """The chat request: same model, stream, cap (from `cap_key`) and sampling."""
    if not messages:
        raise HttpError(400, "the request has no input")
    out: dict[str, Any] = {"model": data.get("model"), "messages": messages}
    out["stream"] = data.get("stream", False)
    out["stream_options"] = {"include_usage": True}
    if data.get(cap_key) is not None:
        out["max_tokens"] = data[cap_key]
    return out


def _tool(fn: dict[str, Any], schema_key: str) -> dict[str, Any]:
    if not isinstance(fn.get("name"), str) or not fn["name"]:
        raise HttpError(400, "each tool needs a 'name'")
    return {"type": "function", "function": {"name": fn["name"], "parameters": fn.get(schema_key)}}


def _tools(out: dict[str, Any], tools: Any, schema_key: str, choice: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise HttpError(400, "'tools' must be a list")
    out["tools"] = [_tool(t if isinstance(t, dict) else {}, schema_key) for t in tools]
    if choice is not None:
        out["tool_choice"] = choice


def responses_chat(data: dict[str, Any]) -> dict[str, Any]:
    """The chat request a `/v1/responses` body amounts to."""
    raw = data.get("input")
    messages: list[dict[str, Any]] = []
    if isinstance(data.get("instructions"), str):
        messages.append({"role": "system", "content": data["instructions"]})
    if isinstance(raw, str):
        messages.append({"role": "user", "content": raw})
    elif isinstance(raw, list):
        messages += [_response_item(item) for item in raw]
    else:
        raise HttpError(400, "'input' must be a string or a list of items")
    out = _chat(data, messages, "max_output_tokens")
    choice = data.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        choice = {"type": "function", "function": {"name": choice.get("name")}}
    _tools(out, data.get("tools"), "parameters", choice)
    return out


def _response_item(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise HttpError(400, "each input item must be an object")
    kind = item.get("type", "message")
    if kind == "function_call_output":
        return {"role": "tool", "tool_call_id": item.get("call_id"), "content": item.get("output")}
    if kind == "function_call":
        fn = {"name": item.get("name"), "arguments": item.get("arguments")}
        call = {"id": item.get("call_id"), "type": "function", "function": fn}
        return {"role": "assistant", "content": None, "tool_calls": [call]}
    return {"role": item.get("role", "user"), "content": _text(item.get("content"))}


def messages_chat(data: dict[str, Any]) -> dict[str, Any]:
    """The chat request a `/v1/messages` body amounts to (`max_tokens` required)."""
    if data.get("max_tokens") is None:
        raise HttpError(400, "max_tokens: Field required", "invalid_request_error")
    turns = data.get("messages")
    if not isinstance(turns, list) or not turns:
        raise HttpError(400, "messages: a non-empty list is required", "invalid_request_error")
    messages: list[dict[str, Any]] = []
    system = _text(data.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for turn in turns:
        if not isinstance(turn, dict):
            raise HttpError(400, "each message must be an object", "invalid_request_error")
        messages += _turn(turn)
    out = _chat(data, messages, "max_tokens")
    _tools(out, data.get("tools"), "input_schema", _choice(data.get("tool_choice")))
    return out


def _turn(turn: dict[str, Any]) -> list[dict[str, Any]]:
    """One Anthropic turn as chat messages: tool results become `tool` messages."""
    role, content = turn.get("role"), turn.get("content")
    if not isinstance(content, list):
        return [{"role": role, "content": _text(content)}]
    out: list[dict[str, Any]] = []
    calls = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            text = _text(block.get("content"))
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
        elif kind == "tool_use":
            args = orjson.dumps(block.get("input") or {}).decode()
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": args}})  # fmt: skip
    text = _text(content)
    if text or calls:
        out.insert(0, {"role": role, "content": text, **({"tool_calls": calls} if calls else {})})
    return out


def _choice(choice: Any) -> Any:
    if not isinstance(choice, dict):
        return choice
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"any": "required", "auto": "auto", "none": "none"}.get(str(kind), "auto")


def completions_chat(data: dict[str, Any]) -> dict[str, Any]:
    """The chat request a `/v1/completions` body amounts to."""
    prompt = data.get("prompt")
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompt = "".join(prompt)
    if not isinstance(prompt, str):
        raise HttpError(400, "'prompt' must be a string or a list of strings")
    out = _chat(data, [{"role": "user", "content": prompt}], "max_tokens")
    out["stream_options"] = data.get("stream_options")
    return out


def embedding_inputs(data: dict[str, Any]) -> list[str]:
    """The texts of an embeddings request's `input`."""
    raw = data.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) for t in inputs):
        raise HttpError(400, "'input' must be a string or a non-empty list of strings")
    return inputs
