"""Grading of tool calls against a case's expectation (BFCL-style), as one bucket per request.

`grade(expect, calls, content)` takes the merged calls of one response (the shape of
`ChatStream.tool_calls`) and returns one of `GRADES`. When several things are wrong, the
first bucket of `PRECEDENCE` wins: whether a call happened at all (`no_call`,
`call_when_irrelevant`), then which functions were called (`unknown_function`: a name the
request never offered; `wrong_function`: an offered function other than the expected one, or
an expected call missing; `extra_call`),
then whether the arguments parse (`invalid_json`), then the schema (`missing_arg`,
`unexpected_arg`, `wrong_type`, where an `enum` violation counts as `wrong_type`), and last
the expected values (`wrong_value`). Parallel calls are matched to the expected calls
order-insensitively, choosing the pairing with the least severe worst bucket. Values compare
after normalisation: strings case- and surrounding-whitespace-insensitively, numbers by value
(1 == 1.0, but never a boolean), lists in order, objects key by key. A constraint is a plain
value, `{"any_of": [...]}` (`null` among the values makes the argument optional) or
`{"contains": "text"}` (a string containing the text, compared case-insensitively).
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import TYPE_CHECKING, Any

from llm_load.core.wire.chat import json_loads

if TYPE_CHECKING:
    from llm_load.core.tools.cases import Expectation, ExpectedCall

__all__ = [
    "GRADES",
    "PRECEDENCE",
    "allowed_values",
    "diagnose",
    "grade",
    "is_optional",
    "matches",
    "same_value",
    "schema_accepts",
]

GRADES = (
    "correct",
    "no_call",
    "unknown_function",
    "wrong_function",
    "invalid_json",
    "missing_arg",
    "unexpected_arg",
    "wrong_type",
    "wrong_value",
    "extra_call",
    "call_when_irrelevant",
)
# Most severe first; grade() reports the first one that applies.
PRECEDENCE = (
    "no_call",
    "call_when_irrelevant",
    "unknown_function",
    "wrong_function",
    "extra_call",
    "invalid_json",
    "missing_arg",
    "unexpected_arg",
    "wrong_type",
    "wrong_value",
)
_RANK = {name: i for i, name in enumerate(PRECEDENCE)} | {"correct": len(PRECEDENCE)}
_MAX_PERMUTED = 6  # more parallel calls than this are paired by position within each name
ANY_OF = "any_of"
CONTAINS = "contains"


def grade(expect: Expectation, calls: list[dict[str, Any]], content: str = "") -> str:
    """The bucket (one of `GRADES`) of one response's tool calls against `expect`."""
    return diagnose(expect, calls, content)[0]


def diagnose(
    expect: Expectation, calls: list[dict[str, Any]], content: str = ""
) -> tuple[str, str]:
    """`(bucket, reason)`: the bucket of `grade` and a short human-readable reason ("" if
    correct). `content` (the response's text) only appears in the reason of a `no_call`."""
    if expect.no_call:
        if calls:
            return "call_when_irrelevant", f"no call expected, got {_names(calls)}"
        return "correct", ""
    if not calls:
        text = f"; text: {content[:60]!r}" if content else ""
        return "no_call", f"expected {_names_of(expect.calls)}, got no tool call{text}"
    offered = expect.functions  # empty when the expectation knows no tools: not checked
    unknown = [n for n in _names(calls) if offered and n not in offered]
    if unknown:
        return "unknown_function", f"{unknown[0]!r} was not offered (tools: {list(offered)})"
    wrong = _compare_names(expect.calls, calls)
    if wrong is not None:
        return wrong
    parsed: list[tuple[str, dict[str, Any]]] = []
    for call in calls:
        name, args = _name(call), _arguments(call)
        if args is None:
            text = str((call.get("function") or {}).get("arguments"))
            return "invalid_json", f"{name}: arguments are not a JSON object: {text[:60]!r}"
        parsed.append((name, args))
    return _best_pairing(expect, parsed)


def _name(call: dict[str, Any]) -> str:
    fn = call.get("function")
    name = fn.get("name") if isinstance(fn, dict) else None
    return name if isinstance(name, str) else ""


def _names(calls: list[dict[str, Any]]) -> list[str]:
    return [_name(c) for c in calls]


def _names_of(expected: list[ExpectedCall] | None) -> list[str]:
    return [c.name for c in expected or []]


def _compare_names(
    expected: list[ExpectedCall] | None, calls: list[dict[str, Any]]
) -> tuple[str, str] | None:
    """`wrong_function` / `extra_call` when the called names are not the expected ones."""
    want, got = Counter(_names_of(expected)), Counter(_names(calls))
    if want == got:
        return None
    why = f"expected {_names_of(expected)}, got {_names(calls)}"
    if sum(got.values()) > sum(want.values()) and not want - got:
        return "extra_call", why
    return "wrong_function", why


def _arguments(call: dict[str, Any]) -> dict[str, Any] | None:
    """The call's arguments as a dict; empty text counts as `{}`; None when not an object."""
    fn = call.get("function")
    text = fn.get("arguments") if isinstance(fn, dict) else None
    if isinstance(text, dict):  # some servers send an object instead of JSON text
        return text
    if not isinstance(text, str):
        return None
    if not text.strip():
        return {}
    try:
        value = json_loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _best_pairing(expect: Expectation, parsed: list[tuple[str, dict[str, Any]]]) -> tuple[str, str]:
    """Pair expected and actual calls (same names) so that the worst bucket is least severe,
    then so that the fewest calls are wrong (the reason then names the call that is)."""
    expected = expect.calls or []
    functions = expect.functions
    best: tuple[str, str] = ("correct", "")
    best_key: tuple[int, int] | None = None
    for order in _orders(expected, parsed):
        worst, bad = ("correct", ""), 0
        for want, (name, args) in zip(expected, (parsed[i] for i in order), strict=True):
            result = _check_call(want, name, args, functions.get(name))
            bad += result[0] != "correct"
            if _RANK[result[0]] < _RANK[worst[0]]:
                worst = result
        key = (_RANK[worst[0]], -bad)
        if best_key is None or key > best_key:
            best, best_key = worst, key
        if bad == 0:
            break
    return best


def _orders(
    expected: list[ExpectedCall], parsed: list[tuple[str, dict[str, Any]]]
) -> list[tuple[int, ...]]:
    """Candidate pairings: index orders of `parsed` whose names line up with `expected`."""
    if len(parsed) <= _MAX_PERMUTED:
        perms = itertools.permutations(range(len(parsed)))
        names = [w.name for w in expected]
        return [p for p in perms if [parsed[i][0] for i in p] == names]
    pools: dict[str, list[int]] = {}
    for i, (name, _) in enumerate(parsed):
        pools.setdefault(name, []).append(i)
    return [tuple(pools[w.name].pop(0) for w in expected)]


def _check_call(
    want: ExpectedCall, name: str, args: dict[str, Any], schema: dict[str, Any] | None
) -> tuple[str, str]:
    """The bucket of one call whose name is right: arguments against schema and constraints."""
    params = schema if isinstance(schema, dict) else {}
    required = [k for k in params.get("required") or [] if isinstance(k, str)]
    required += [k for k, c in want.args.items() if not is_optional(c) and k not in required]
    missing = [k for k in required if k not in args]
    if missing:
        return "missing_arg", f"{name}: missing argument {missing[0]!r}"
    props = params.get("properties")
    if isinstance(props, dict):
        extra = [k for k in args if k not in props]
        if extra:
            return "unexpected_arg", f"{name}: unexpected argument {extra[0]!r}"
        for key, value in args.items():
            if not schema_accepts(props[key], value):
                return "wrong_type", f"{name}: {key}={value!r} does not fit {props[key]}"
    for key, constraint in want.args.items():
        if key in args and not matches(args[key], constraint):
            return "wrong_value", f"{name}: {key}={args[key]!r}, expected {constraint!r}"
    return "correct", ""


def _operator(constraint: Any) -> str | None:
    """`any_of` or `contains` when the constraint is that operator, else None (a value)."""
    if isinstance(constraint, dict) and len(constraint) == 1:
        (key,) = constraint
        return key if key in (ANY_OF, CONTAINS) else None
    return None


def allowed_values(constraint: Any) -> list[Any]:
    """Example values a constraint accepts: the `any_of` list without `null`, the `contains`
    text, or the value itself."""
    op = _operator(constraint)
    if op == ANY_OF:
        return [v for v in constraint[ANY_OF] if v is not None]
    return [constraint[CONTAINS]] if op == CONTAINS else [constraint]


def matches(value: Any, constraint: Any) -> bool:
    """Whether `value` meets an argument constraint (after normalisation)."""
    if _operator(constraint) == CONTAINS:
        needle = str(constraint[CONTAINS]).strip().casefold()
        return isinstance(value, str) and needle in value.casefold()
    return any(same_value(value, v) for v in allowed_values(constraint))


def is_optional(constraint: Any) -> bool:
    """Whether the argument may be left out: `null` is one of its `any_of` values."""
    return _operator(constraint) == ANY_OF and None in constraint[ANY_OF]


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return ("s", value.strip().casefold())
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, list):
        return ("l", tuple(_norm(v) for v in value))
    if isinstance(value, dict):
        return ("d", tuple(sorted((str(k), _norm(v)) for k, v in value.items())))
    return ("o", value)


def same_value(a: Any, b: Any) -> bool:
    """Equality after normalisation (strings trimmed and case-folded, 1 == 1.0, bool apart)."""
    return bool(_norm(a) == _norm(b))


_TYPES: dict[str, Any] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def schema_accepts(schema: Any, value: Any) -> bool:
    """Whether `value` fits a JSON schema's `type` (one or a list), `enum`, `anyOf`/`oneOf`,
    and recursively its array `items` and object `properties`. Unknown keywords pass."""
    if not isinstance(schema, dict):
        return True
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
    if kinds and not any(_TYPES.get(k, lambda _: True)(value) for k in kinds):
        return False
    enum = schema.get("enum")
    if isinstance(enum, list) and not any(same_value(value, e) for e in enum):
        return False
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list) and not any(schema_accepts(s, value) for s in options):
        return False
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        return all(schema_accepts(items, v) for v in value)
    props = schema.get("properties")
    if isinstance(value, dict) and isinstance(props, dict):
        return all(schema_accepts(props[k], v) for k, v in value.items() if k in props)
    return True
