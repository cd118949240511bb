"""Minimal tool calling for the mock: which tool a request calls and with which arguments.

A request with a non-empty ``tools`` list (and ``tool_choice`` other than ``"none"``) is
answered with one call to the tool named by ``tool_choice`` or else the first tool; its JSON
arguments hold one placeholder value per *required* property of the tool's parameter schema
(``enum[0]`` when given, else a value of the declared type). With ``--no-tools`` such a request
gets vLLM's 400 for a server started without ``--enable-auto-tool-choice``.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from llm_load.mock.payload import HttpError

NO_TOOLS_MESSAGE = (
    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
)
_PLACEHOLDERS: dict[str, Any] = {
    "string": "test",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}
_ids = itertools.count(1)


def no_tools_error() -> HttpError:
    """vLLM's answer to ``tools`` when tool choice is not enabled (its own body shape)."""
    body = {"object": "error", "message": NO_TOOLS_MESSAGE, "type": "BadRequestError", "code": 400}
    return HttpError(400, NO_TOOLS_MESSAGE, body=orjson.dumps(body))


def _functions(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise HttpError(400, "'tools' must be a list")
    out = []
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise HttpError(400, "each tool must be {'type': 'function', 'function': {'name'}}")
        out.append(fn)
    return out


def _chosen(functions: list[dict[str, Any]], choice: Any) -> dict[str, Any]:
    if not isinstance(choice, dict):
        return functions[0]
    name = (choice.get("function") or {}).get("name")
    for fn in functions:
        if fn["name"] == name:
            return fn
    raise HttpError(400, f"tool_choice names an unknown function: {name!r}")


def arguments(parameters: Any) -> dict[str, Any]:
    """Placeholder arguments for the required properties of a JSON-schema ``parameters``."""
    if not isinstance(parameters, dict):
        return {}
    props = parameters.get("properties") or {}
    out: dict[str, Any] = {}
    for name in parameters.get("required") or []:
        schema = props.get(name) if isinstance(props, dict) else None
        schema = schema if isinstance(schema, dict) else {}
        enum = schema.get("enum")
        kind = schema.get("type")
        if isinstance(enum, list) and enum:
            out[name] = enum[0]
        else:
            out[name] = _PLACEHOLDERS.get(kind if isinstance(kind, str) else "string", "test")
    return out


def tool_call(data: dict[str, Any], enabled: bool) -> dict[str, Any] | None:
    """The OpenAI ``tool_calls[0]`` object this request gets, or None for a text reply."""
    tools = data.get("tools")
    if not tools:
        return None
    if not enabled:
        raise no_tools_error()
    functions = _functions(tools)
    choice = data.get("tool_choice")
    if choice == "none":
        return None
    fn = _chosen(functions, choice)
    args = orjson.dumps(arguments(fn.get("parameters"))).decode()
    call_id = f"call_mock{next(_ids)}"
    return {"id": call_id, "type": "function", "function": {"name": fn["name"], "arguments": args}}
