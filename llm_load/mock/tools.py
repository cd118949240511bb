"""Tool calling for the mock: which calls (or text) a request gets, and the tool-result turns.

A request whose last message is a ``tool`` message gets a final text answer; the trailing
``tool`` messages are counted in the truth (and those whose ``tool_call_id`` the mock never
issued, separately). A request with tools whose last user message is a known case's
(``--tool-cases``) gets that case's answer, correct or deliberately wrong
(:mod:`llm_load.mock.tool_answers`), with its arguments streamed in awkward fragments. Any other
request with a non-empty ``tools`` list (and ``tool_choice`` other than ``"none"``) is answered
with one placeholder call, in a single delta, to the tool named by ``tool_choice`` or else the
first tool; its JSON arguments hold one placeholder value per *required* property of the tool's
parameter schema (``enum[0]`` when given, else a value of the declared type). With
``--no-tools`` a request with tools gets vLLM's 400 for a server started without
``--enable-auto-tool-choice``.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

import orjson

from llm_load.core.tools.cases import ToolCase, placeholder
from llm_load.mock import payload
from llm_load.mock.config import MockConfig
from llm_load.mock.payload import HttpError
from llm_load.mock.tool_answers import ToolBook, tool_call_deltas
from llm_load.mock.truth import TruthRecord, TruthStore

NO_TOOLS_MESSAGE = (
    '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
)
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
        out[name] = placeholder(props.get(name) if isinstance(props, dict) else None)
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


Reply = tuple[list[dict[str, Any]], tuple[bytes, ...]]  # tool calls and their stream deltas


class ToolResponder:
    """Decides the tool part of each chat request and keeps the tool counters of the truth."""

    MAX_IDS = 1_000_000  # issued call ids remembered for matching tool results

    def __init__(self, config: MockConfig, truth: TruthStore) -> None:
        self.enabled, self.style, self.truth = config.tools, config.tool_stream, truth
        self.book: ToolBook | None = None
        if config.tool_cases:
            kinds, seed = config.tool_error_kinds, config.seed
            self.book = ToolBook(config.tool_cases, config.tool_error_rate, kinds, seed)
        self._issued: set[str] = set()
        self._order: deque[str] = deque()

    def respond(self, data: dict[str, Any], record: TruthRecord) -> Reply | None:
        """The tool calls (and stream deltas) this request gets, or None for a text reply."""
        tools = data.get("tools")
        if tools and not self.enabled:
            raise no_tools_error()
        messages = data["messages"]
        if messages[-1].get("role") == "tool":
            self._results(messages)
            return None
        if not tools:
            return None
        names = [fn["name"] for fn in _functions(tools)]
        book = self.book
        case = book.find(messages, names) if book is not None else None
        if book is not None and case is not None:
            return self._answer(book, case, record)
        call = tool_call(data, True)
        if call is None:
            return None
        self.truth.tool_unmatched += 1
        self._issue(call["id"])
        return [call], (payload.tool_delta(call),)

    def _answer(self, book: ToolBook, case: ToolCase, record: TruthRecord) -> Reply | None:
        """The known case's answer (correct or injected), counted in the truth."""
        kind, answer = book.answer(case)
        self.truth.count_tool_answer(kind)
        record.tool_answer, record.tool_case = kind, case.id
        if not answer:
            return None
        calls = []
        for name, arguments in answer:
            call_id = f"call_{next(_ids):012x}"
            self._issue(call_id)
            calls.append({"id": call_id, "type": "function",
                          "function": {"name": name, "arguments": arguments}})  # fmt: skip
        return calls, tuple(payload.tool_delta(d) for d in tool_call_deltas(calls, self.style))

    def _issue(self, call_id: str) -> None:
        self._issued.add(call_id)
        self._order.append(call_id)
        if len(self._order) > self.MAX_IDS:
            self._issued.discard(self._order.popleft())

    def _results(self, messages: list[Any]) -> None:
        """Count the trailing ``tool`` messages and those answering no issued call id."""
        for msg in reversed(messages):
            if msg.get("role") != "tool":
                break
            self.truth.tool_results_received += 1
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str) or call_id not in self._issued:
                self.truth.tool_result_id_mismatches += 1
