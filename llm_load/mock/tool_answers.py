"""The mock's answers to known tool cases: correct calls, deliberately wrong ones, streamed deltas.

With ``--tool-cases`` the mock knows a dataset (:mod:`llm_load.core.tools.cases`): a request
whose last user message (and offered function names) match a case is answered with the case's
expected calls (:func:`~llm_load.core.tools.cases.expected_calls`), or with plain text for an
irrelevance case. ``--tool-error-rate R`` makes a share R of those answers wrong: answer ``k``
(counted from 0) is wrong when ``floor((k+1)R + p) > floor(kR + p)`` with a phase ``p`` drawn
from the seed, so any N answers hold ``floor(NR)`` or ``ceil(NR)`` wrong ones. Wrong answers
cycle through the configured kinds (:data:`~llm_load.mock.config.TOOL_ERROR_KINDS`), skipping a
kind that does not apply to the case; an irrelevance case can only be wrong by
``call_when_irrelevant``. Parallel answers are rotated by one position per answer so clients
must match calls order-insensitively. Streamed calls are split vLLM-style (id and name first,
with empty arguments) or llama.cpp-style (the first arguments piece with the name), with the
arguments text cut at odd positions (inside strings, between a key and its value).
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Callable, Iterable
from typing import Any

from llm_load.core.tools.cases import ToolCase, expected_calls, last_user_text
from llm_load.core.tools.grading import is_optional, matches, schema_accepts
from llm_load.mock.config import DEFAULT_TOOL_ERROR_KINDS

Call = tuple[str, str]  # (function name, arguments JSON text)
_PIECES = (1, 4, 2, 7, 3, 5, 6)  # sizes (characters) of consecutive arguments fragments
_WRONG_TYPES: tuple[Any, ...] = (42, "forty-two", True, ["x"], {"x": 1}, None)


def encode(calls: Iterable[dict[str, Any]]) -> list[Call]:
    """``[{"name", "arguments": {...}}]`` as (name, JSON text) with a space after separators."""
    return [(c["name"], json.dumps(c["arguments"], ensure_ascii=False)) for c in calls]


def _schema(case: ToolCase, name: str) -> dict[str, Any]:
    params = case.expect.functions.get(name)
    return params if isinstance(params, dict) else {}


def _props(case: ToolCase, name: str) -> dict[str, Any]:
    props = _schema(case, name).get("properties")
    return props if isinstance(props, dict) else {}


def _wrong_function(case: ToolCase, calls: list[dict[str, Any]]) -> list[Call] | None:
    """The first call names another offered function (None when every offered one is wanted)."""
    wanted = {c["name"] for c in calls}
    other = next((n for n in case.tool_names if n not in wanted), None)
    if other is None:
        return None
    return [(other, encode(calls[:1])[0][1]), *encode(calls[1:])]


def _unknown_function(case: ToolCase, calls: list[dict[str, Any]]) -> list[Call] | None:
    """The first call names a function that was never offered (``NAME_v2``)."""
    other = calls[0]["name"] + "_v2"
    while other in case.tool_names:
        other += "_v2"
    return [(other, encode(calls[:1])[0][1]), *encode(calls[1:])]


def _invalid_json(case: ToolCase, calls: list[dict[str, Any]]) -> list[Call] | None:
    (name, text), *rest = encode(calls)
    return [(name, text[:-1]), *rest]  # the closing brace is missing


def _missing_arg(case: ToolCase, calls: list[dict[str, Any]]) -> list[Call] | None:
    expect = case.expect.calls or []
    for i, call in enumerate(calls):
        required = list(_schema(case, call["name"]).get("required") or [])
        required += [k for k, c in expect[i].args.items() if not is_optional(c)]
        for key in required:
            if key in call["arguments"]:
                out = copy.deepcopy(calls)
                del out[i]["arguments"][key]
                return encode(out)
    return None


def _unexpected_arg(case: ToolCase, calls: list[dict[str, Any]]) -> list[Call] | None:
    props = _schema(case, calls[0]["name"]).get("properties")
    if not isinstance(props, dict):
        return None
    key = "verbose"
    while key in props:
        key += "_x"
    out = copy.deepcopy(calls)
    out[0]["arguments"][key] = True
    return encode(out)


def _wrong_type(case: ToolCase, calls: list[dict[str, Any]]) -> list[Call] | None:
    for i, call in enumerate(calls):
        props = _props(case, call["name"])
        for key in call["arguments"]:
            bad = [v for v in _WRONG_TYPES if not schema_accepts(props.get(key), v)]
            if bad:
                out = copy.deepcopy(calls)
                out[i]["arguments"][key] = bad[0]
                return encode(out)
    return None


def _other_values(schema: Any, value: Any) -> list[Any]:
    """Values of the same JSON type as ``value`` that differ from it."""
    enum = schema.get("enum") if isinstance(schema, dict) else None
    if isinstance(enum, list):
        return list(enum)
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 7, value * 3 + 1]
    if isinstance(value, str):
        return ["Springfield", value + " (other)"]
    return []


def _wrong_value(case: ToolCase, calls: list[dict[str, Any]]) -> list[Call] | None:
    expect = case.expect.calls or []
    for i, call in enumerate(calls):
        props = _props(case, call["name"])
        for key, constraint in expect[i].args.items():
            if key not in call["arguments"]:
                continue
            for value in _other_values(props.get(key), call["arguments"][key]):
                if schema_accepts(props.get(key), value) and not matches(value, constraint):
                    out = copy.deepcopy(calls)
                    out[i]["arguments"][key] = value
                    return encode(out)
    return None


def _extra_call(case: ToolCase, calls: list[dict[str, Any]]) -> list[Call] | None:
    return [*encode(calls), *encode(calls[:1])]


def _no_call(case: ToolCase, calls: list[dict[str, Any]]) -> list[Call] | None:
    return []


_CORRUPT: dict[str, Callable[[ToolCase, list[dict[str, Any]]], list[Call] | None]] = {
    "unknown_function": _unknown_function,
    "wrong_function": _wrong_function,
    "invalid_json": _invalid_json,
    "missing_arg": _missing_arg,
    "unexpected_arg": _unexpected_arg,
    "wrong_type": _wrong_type,
    "wrong_value": _wrong_value,
    "extra_call": _extra_call,
    "no_call": _no_call,
}


def wrong_answer(kind: str, case: ToolCase) -> list[Call] | None:
    """The case's answer made wrong in the way ``kind`` names, or None when it cannot be."""
    if case.expect.no_call:
        if kind != "call_when_irrelevant":
            return None
        name = case.tool_names[0]
        args = {k: "test" for k in _schema(case, name).get("required") or []}
        return [(name, json.dumps(args))]
    corrupt = _CORRUPT.get(kind)
    return None if corrupt is None else corrupt(case, expected_calls(case))


class ErrorSchedule:
    """Which answers are wrong: evenly spread, exactly ``floor`` or ``ceil`` of ``N * rate``."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.phase = random.Random(seed).random() if 0.0 < rate < 1.0 else 0.0
        self.k = 0

    def next_is_wrong(self) -> bool:
        """Whether the next answer is to be wrong."""
        k, r, p = self.k, self.rate, self.phase
        self.k = k + 1
        return math.floor((k + 1) * r + p) > math.floor(k * r + p)


class ToolBook:
    """The known cases, looked up by last user message (and offered function names)."""

    def __init__(
        self,
        cases: Iterable[ToolCase],
        error_rate: float = 0.0,
        kinds: Iterable[str] = DEFAULT_TOOL_ERROR_KINDS,
        seed: int = 0,
    ) -> None:
        self._by_key: dict[tuple[str, tuple[str, ...]], ToolCase] = {}
        self._by_text: dict[str, ToolCase] = {}
        for case in cases:
            text = last_user_text(case.messages).strip()
            self._by_key.setdefault((text, tuple(sorted(case.tool_names))), case)
            self._by_text.setdefault(text, case)
        self._schedule = ErrorSchedule(error_rate, seed)
        kinds = tuple(kinds)
        self._call_kinds = [k for k in kinds if k != "call_when_irrelevant"]
        self._irrelevant = "call_when_irrelevant" in kinds
        self._next_kind = 0
        self._answers = 0

    def __len__(self) -> int:
        return len(self._by_text)

    def find(self, messages: list[Any], names: Iterable[str]) -> ToolCase | None:
        """The case whose last user message is this request's, preferring the same tools."""
        text = last_user_text(messages).strip()
        found = self._by_key.get((text, tuple(sorted(names))))
        return found if found is not None else self._by_text.get(text)

    def answer(self, case: ToolCase) -> tuple[str, list[Call]]:
        """``(kind, calls)``: ``"correct"`` or the injected kind, and the calls to send
        (empty: answer with text)."""
        self._answers += 1
        kind, calls = "correct", encode(expected_calls(case))
        if self._schedule.next_is_wrong():
            kind, calls = self._wrong(case) or (kind, calls)
        if len(calls) > 1:
            shift = self._answers % len(calls)
            calls = calls[shift:] + calls[:shift]
        return kind, calls

    def _wrong(self, case: ToolCase) -> tuple[str, list[Call]] | None:
        if case.expect.no_call:
            calls = wrong_answer("call_when_irrelevant", case) if self._irrelevant else None
            return None if calls is None else ("call_when_irrelevant", calls)
        kinds = self._call_kinds
        for step in range(len(kinds)):
            kind = kinds[(self._next_kind + step) % len(kinds)]
            calls = wrong_answer(kind, case)
            if calls is not None:
                self._next_kind += step + 1
                return kind, calls
        return None


def split_arguments(text: str, start: int = 0) -> list[str]:
    """``text`` cut into fragments of 1, 4, 2, 7, 3, 5, 6, 1, ... characters (the cycle
    entered at position ``start``)."""
    out, at, i = [], 0, start
    while at < len(text):
        size = _PIECES[i % len(_PIECES)]
        out.append(text[at : at + size])
        at, i = at + size, i + 1
    return out


def tool_call_deltas(calls: list[dict[str, Any]], style: str = "vllm") -> list[dict[str, Any]]:
    """The streamed ``tool_calls`` entries (one per chunk) of OpenAI-shaped ``calls``.

    ``vllm``: the first entry of a call has its index, id, type and name with arguments ``""``;
    the following ones only the index and an arguments fragment. ``llamacpp``: the first entry
    already carries the first fragment."""
    out: list[dict[str, Any]] = []
    cuts = 0  # fragments so far: each call enters the size cycle where the previous one left
    for index, call in enumerate(calls):
        fn = call["function"]
        pieces = split_arguments(fn["arguments"], cuts)
        cuts += len(pieces)
        first = pieces.pop(0) if style == "llamacpp" and pieces else ""
        head = {"name": fn["name"], "arguments": first}
        out.append({"index": index, "id": call["id"], "type": "function", "function": head})
        out += [{"index": index, "function": {"arguments": p}} for p in pieces]
    return out
