"""Tool-call test cases: the JSONL dataset format, its loader, and canned tool results.

One JSON object per line: `id`, `messages` (chat messages, at least one user message),
`tools` (OpenAI function tools), optional `tool_choice` ("auto", "required", "none" or
`{"type": "function", "function": {"name": ...}}`), `expect` (`{"calls": [{"name", "args"}]}`
for one or several parallel calls, or `{"no_call": true}`), optional `results` (canned tool
result per function name, sent back in a multi-turn loop) and optional `category` (derived:
"irrelevance" for `no_call`, "parallel" for several calls, "multiple" when several tools are
offered, else "single"; a given one must agree). `load_tool_cases` rejects unknown keys and
inconsistent cases (an expected function that is not offered, an argument not in its schema,
an expected answer that would not itself grade correct) with `ScenarioError` messages of the
form `FILE line N: key.path: what was expected (got ...)`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from llm_load.core.scenario.errors import ScenarioError, format_errors
from llm_load.core.tools.grading import ANY_OF, CONTAINS, allowed_values, diagnose

__all__ = [
    "CATEGORIES",
    "Expectation",
    "ExpectedCall",
    "ToolCase",
    "expected_calls",
    "last_user_text",
    "load_tool_cases",
    "tool_result",
]

CATEGORIES = ("single", "parallel", "multiple", "irrelevance")
_STRICT = ConfigDict(extra="forbid")
_ROLES = ("system", "developer", "user", "assistant", "tool")
_PLACEHOLDERS: dict[str, Any] = {
    "string": "test",
    "integer": 1,
    "number": 1.0,
    "boolean": True,
    "array": [],
    "object": {},
    "null": None,
}


class ExpectedCall(BaseModel):
    """One expected call: the function name and a constraint per named argument."""

    model_config = _STRICT
    name: str = Field(min_length=1)
    args: dict[str, Any] = {}

    @model_validator(mode="after")
    def _constraints(self) -> ExpectedCall:
        for key, value in self.args.items():
            if isinstance(value, dict) and ANY_OF in value:
                options = value[ANY_OF]
                if set(value) != {ANY_OF} or not isinstance(options, list) or not options:
                    raise ValueError(f'args.{key}: expected {{"any_of": [value, ...]}}')
            if isinstance(value, dict) and CONTAINS in value:
                text = value[CONTAINS]
                if set(value) != {CONTAINS} or not isinstance(text, str) or not text.strip():
                    raise ValueError(f'args.{key}: expected {{"contains": "text"}}')
        return self


class Expectation(BaseModel):
    """What a correct response does: `calls` (order-insensitive) or `no_call`."""

    model_config = _STRICT
    calls: list[ExpectedCall] | None = Field(default=None, min_length=1)
    no_call: bool = False
    _functions: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _one(self) -> Expectation:
        if (self.calls is not None) == self.no_call:
            raise ValueError('expected exactly one of "calls": [...] or "no_call": true')
        return self

    @property
    def functions(self) -> dict[str, Any]:
        """JSON schema `parameters` of each offered function by name (set by `ToolCase`)."""
        return self._functions


class ToolCase(BaseModel):
    """One line of a tool dataset."""

    model_config = _STRICT
    id: str = Field(min_length=1)
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] = Field(min_length=1)
    tool_choice: str | dict[str, Any] = "auto"
    expect: Expectation
    results: dict[str, Any] = {}
    category: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ToolCase:
        _check_messages(self.messages)
        functions = _functions(self.tools)
        self.expect._functions = functions
        _check_choice(self.tool_choice, self.expect, functions)
        _check_expect(self.expect, functions)
        unknown = sorted(set(self.results) - set(functions))
        if unknown:
            raise ValueError(f"results: {unknown[0]!r} is not an offered function")
        derived = _category(self.expect, len(functions))
        if self.category and self.category != derived:
            raise ValueError(f"category: the expectation makes this {derived!r}")
        self.category = derived
        return self

    @property
    def tool_names(self) -> list[str]:
        """Names of the offered functions, in order."""
        return list(self.expect.functions)


def _check_messages(messages: list[dict[str, Any]]) -> None:
    for i, msg in enumerate(messages):
        if msg.get("role") not in _ROLES:
            raise ValueError(f"messages[{i}].role: expected one of {', '.join(_ROLES)}")
    if not last_user_text(messages).strip():
        raise ValueError("messages: expected at least one user message with text")


def _functions(tools: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, tool in enumerate(tools):
        fn = tool.get("function")
        if tool.get("type") != "function" or not isinstance(fn, dict):
            raise ValueError(f'tools[{i}]: expected {{"type": "function", "function": {{...}}}}')
        name = fn.get("name")
        if not isinstance(name, str) or not name or name in out:
            raise ValueError(f"tools[{i}].function.name: expected a new non-empty name")
        params = fn.get("parameters", {})
        if not isinstance(params, dict):
            raise ValueError(f"tools[{i}].function.parameters: expected a JSON schema object")
        out[name] = params
    return out


def _check_choice(
    choice: str | dict[str, Any], expect: Expectation, functions: dict[str, Any]
) -> None:
    names = {c.name for c in expect.calls or []}
    if isinstance(choice, str):
        if choice not in ("auto", "required", "none"):
            raise ValueError('tool_choice: expected "auto", "required", "none" or a function')
        if choice == "none" and names:
            raise ValueError('tool_choice: "none" contradicts the expected calls')
        if choice == "required" and expect.no_call:
            raise ValueError('tool_choice: "required" contradicts "no_call"')
        return
    fn = choice.get("function")
    name = fn.get("name") if isinstance(fn, dict) else None
    if choice.get("type") != "function" or set(choice) != {"type", "function"} or not name:
        raise ValueError('tool_choice: expected {"type": "function", "function": {"name": ...}}')
    if name not in functions:
        raise ValueError(f"tool_choice: {name!r} is not an offered function")
    if expect.no_call or names - {name}:
        raise ValueError(f"tool_choice: forcing {name!r} contradicts the expectation")


def _check_expect(expect: Expectation, functions: dict[str, Any]) -> None:
    for i, call in enumerate(expect.calls or []):
        if call.name not in functions:
            raise ValueError(f"expect.calls[{i}].name: {call.name!r} is not an offered function")
        props = functions[call.name].get("properties")
        for key in call.args:
            if isinstance(props, dict) and key not in props:
                raise ValueError(f"expect.calls[{i}].args: {key!r} is not in the schema")


def _category(expect: Expectation, offered: int) -> str:
    if expect.no_call:
        return "irrelevance"
    if len(expect.calls or []) > 1:
        return "parallel"
    return "multiple" if offered > 1 else "single"


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (string content, or its text parts joined)."""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                return "".join(
                    p["text"]
                    for p in content
                    if isinstance(p, dict) and isinstance(p.get("text"), str)
                )
            return content if isinstance(content, str) else ""
    return ""


def placeholder(schema: Any) -> Any:
    """A value a JSON schema accepts: its default/const, first enum value, or by type."""
    schema = schema if isinstance(schema, dict) else {}
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    return _PLACEHOLDERS.get(kind if isinstance(kind, str) else "string", "test")


def expected_calls(case: ToolCase) -> list[dict[str, Any]]:
    """A concrete correct answer: `[{"name", "arguments": {...}}]` with each constrained
    argument's value (the first allowed one; optional ones left out) and a placeholder for any
    other required argument (the schema's `default`, `const`, first `enum`, or a typed value)."""
    out = []
    for call in case.expect.calls or []:
        params = case.expect.functions.get(call.name) or {}
        args: dict[str, Any] = {}
        for key, constraint in call.args.items():
            values = allowed_values(constraint)
            if values:
                args[key] = values[0]
        props = params.get("properties") or {}
        for key in params.get("required") or []:
            if key not in args and key not in call.args:
                args[key] = placeholder(props.get(key))
        out.append({"name": call.name, "arguments": args})
    return out


def tool_result(case: ToolCase, call: dict[str, Any]) -> str:
    """Content of the `tool` message answering `call`: the case's canned result for the
    function (a string as is, anything else as JSON) or a deterministic JSON stub."""
    fn = call.get("function") or {}
    name = fn.get("name") if isinstance(fn, dict) else None
    if isinstance(name, str) and name in case.results:
        value = case.results[name]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return json.dumps({"function": name, "status": "ok", "result": f"stub result for {name}"})


def load_tool_cases(path: str | Path) -> list[ToolCase]:
    """Read and validate a JSONL tool dataset; `ScenarioError` lists every problem."""
    name = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ScenarioError(f"{name}: cannot read: {error.strerror or error}") from None
    cases: list[ToolCase] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = _parse_line(line, f"{name} line {number}")
        except ScenarioError as error:
            problems.append(str(error))
            continue
        if case.id in first_line:
            problems.append(
                f"{name} line {number}: id: duplicate {case.id!r} (first on line "
                f"{first_line[case.id]})"
            )
            continue
        first_line[case.id] = number
        cases.append(case)
    if not cases and not problems:
        problems.append(f"{name}: no tool cases")
    if problems:
        raise ScenarioError("\n".join(problems))
    return cases


def _parse_line(line: str, where: str) -> ToolCase:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ScenarioError(f"{where}: invalid JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{where}: expected a JSON object (got {type(data).__name__})")
    try:
        case = ToolCase.model_validate(data)
    except ValidationError as error:
        text = format_errors(where, error, ToolCase)
        raise ScenarioError(text.replace(f"{where}: (top level): ", f"{where}: ")) from None
    answer = [
        {"function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
        for c in expected_calls(case)
    ]
    bucket, reason = diagnose(case.expect, answer)
    if bucket != "correct":
        raise ScenarioError(
            f"{where}: expect: the expected answer itself grades {bucket}: {reason}"
        )
    return case
