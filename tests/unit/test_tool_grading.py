"""Tool-call grading: every bucket, the precedence between them, pairing and normalisation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llm_load.core.tools.cases import Expectation, ToolCase
from llm_load.core.tools.grading import GRADES, PRECEDENCE, diagnose, grade, same_value

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city"],
        },
    },
}
STOCK = {
    "type": "function",
    "function": {
        "name": "get_stock_price",
        "parameters": {
            "type": "object",
            "properties": {"symbol": {"type": "string"}},
            "required": ["symbol"],
        },
    },
}
EVENT = {
    "type": "function",
    "function": {
        "name": "create_event",
        "parameters": {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "attendees": {"type": "array", "items": {"type": "string"}},
                "minutes": {"type": "number"},
                "private": {"type": "boolean"},
            },
            "required": ["title"],
        },
    },
}
MSGS = [{"role": "user", "content": "question"}]


def expectation(expect: dict[str, Any], tools: list[dict[str, Any]] | None = None) -> Expectation:
    """An expectation bound to its tools' schemas, the way a loaded case has it."""
    tools = tools or [WEATHER, STOCK, EVENT]
    return ToolCase(id="t", messages=MSGS, tools=tools, expect=expect).expect


def call(name: str, args: Any, call_id: str = "c") -> dict[str, Any]:
    text = args if isinstance(args, str) else json.dumps(args)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": text}}


PARIS = {"calls": [{"name": "get_weather", "args": {"city": "Paris"}}]}
PARIS_OPT_UNIT = {
    "calls": [
        {"name": "get_weather", "args": {"city": "Paris", "unit": {"any_of": [None, "celsius"]}}}
    ]
}
TWO = {
    "calls": [
        {"name": "get_weather", "args": {"city": "Paris"}},
        {"name": "get_stock_price", "args": {"symbol": "AAPL"}},
    ]
}
NONE = {"no_call": True}


@pytest.mark.parametrize(
    ("expect", "calls", "bucket"),
    [
        (PARIS, [call("get_weather", {"city": "Paris"})], "correct"),
        (NONE, [], "correct"),
        (PARIS, [], "no_call"),
        (PARIS, [call("get_stock_price", {"symbol": "Paris"})], "wrong_function"),
        (PARIS, [call("", {"city": "Paris"})], "unknown_function"),  # no name: never offered
        (PARIS, [call("get_forecast", {"city": "Paris"})], "unknown_function"),  # hallucinated
        (TWO, [call("get_weather", {"city": "Paris"})], "wrong_function"),  # one call missing
        (PARIS, [call("get_weather", '{"city": "Paris"')], "invalid_json"),
        (PARIS, [call("get_weather", "[1, 2]")], "invalid_json"),  # JSON, but not an object
        (PARIS, [call("get_weather", {"unit": "celsius"})], "missing_arg"),
        (PARIS, [call("get_weather", {"city": "Paris", "country": "FR"})], "unexpected_arg"),
        (PARIS, [call("get_weather", {"city": 75001})], "wrong_type"),
        (PARIS, [call("get_weather", {"city": "Paris", "unit": "kelvin"})], "wrong_type"),  # enum
        (PARIS, [call("get_weather", {"city": "Paris", "days": 1.5})], "wrong_type"),
        (PARIS, [call("get_weather", {"city": "Lyon"})], "wrong_value"),
        (PARIS, [call("get_weather", {"city": "Paris"})] * 2, "extra_call"),
        (NONE, [call("get_weather", {"city": "Paris"})], "call_when_irrelevant"),
    ],
)
def test_every_bucket(expect: dict, calls: list[dict], bucket: str) -> None:
    assert grade(expectation(expect), calls) == bucket


def test_every_grade_is_reachable_and_ranked() -> None:
    assert set(GRADES) == {*PRECEDENCE, "correct"} and len(GRADES) == len(PRECEDENCE) + 1


@pytest.mark.parametrize(
    ("calls", "bucket"),
    [
        # extra_call beats invalid JSON in one of the calls
        ([call("get_weather", {"city": "Paris"}), call("get_weather", "{bad")], "extra_call"),
        # wrong_function beats invalid JSON
        ([call("get_stock_price", "{bad")], "wrong_function"),
        # unknown_function beats extra_call and wrong_function
        ([call("get_weather", {"city": "Paris"}), call("weather", {})], "unknown_function"),
        ([call("get_stock_price", {}), call("get_weather_v2", "{bad")], "unknown_function"),
        # invalid_json beats everything about arguments
        (
            [call("get_weather", "{bad"), call("get_stock_price", {})],
            "invalid_json",
        ),
        # missing_arg beats unexpected_arg and wrong_type
        ([call("get_weather", {"country": "FR", "days": "x"})], "missing_arg"),
        # unexpected_arg beats wrong_type
        ([call("get_weather", {"city": 1, "country": "FR"})], "unexpected_arg"),
        # wrong_type beats wrong_value
        ([call("get_weather", {"city": "Lyon", "days": "two"})], "wrong_type"),
    ],
)
def test_precedence(calls: list[dict], bucket: str) -> None:
    expect = expectation({"calls": [{"name": "get_weather", "args": {"city": "Paris"}}]})
    if len(calls) == 2 and calls[1]["function"]["name"] == "get_stock_price":
        expect = expectation(TWO)
    assert grade(expect, calls) == bucket


def test_precedence_across_parallel_calls_reports_the_most_severe() -> None:
    calls = [
        call("get_weather", {"city": "Lyon"}),  # wrong_value
        call("get_stock_price", {}),  # missing_arg
    ]
    assert grade(expectation(TWO), calls) == "missing_arg"


def test_parallel_calls_match_in_any_order() -> None:
    calls = [call("get_stock_price", {"symbol": "aapl"}), call("get_weather", {"city": "Paris"})]
    assert grade(expectation(TWO), calls) == "correct"


def test_same_function_calls_are_paired_by_their_arguments() -> None:
    expect = expectation(
        {
            "calls": [
                {"name": "get_weather", "args": {"city": "Paris"}},
                {"name": "get_weather", "args": {"city": "London"}},
                {"name": "get_weather", "args": {"city": "Rome"}},
            ]
        }
    )
    cities = ["Rome", "Paris", "London"]
    assert grade(expect, [call("get_weather", {"city": c}) for c in cities]) == "correct"
    cities = ["Rome", "Paris", "Oslo"]
    bucket, reason = diagnose(expect, [call("get_weather", {"city": c}) for c in cities])
    assert bucket == "wrong_value" and "Oslo" in reason


def test_more_parallel_calls_than_permuted_pair_by_position() -> None:
    symbols = [f"S{i}" for i in range(8)]
    expect = expectation(
        {"calls": [{"name": "get_stock_price", "args": {"symbol": s}} for s in symbols]}
    )
    calls = [call("get_stock_price", {"symbol": s}) for s in symbols]
    assert grade(expect, calls) == "correct"
    assert grade(expect, [*calls[:-1], call("get_stock_price", {"symbol": "X"})]) == "wrong_value"


@pytest.mark.parametrize(
    ("args", "bucket"),
    [
        ({"city": "  pARIS "}, "correct"),  # strings: case and surrounding whitespace
        ({"city": "Pa ris"}, "wrong_value"),  # ... but not inner whitespace
        ({"city": "Paris", "days": 3.0}, "correct"),  # 3.0 is an integer
        ({"city": "Paris", "unit": "Celsius"}, "correct"),  # enum compared normalised too
    ],
)
def test_string_and_number_normalisation(args: dict, bucket: str) -> None:
    assert grade(expectation(PARIS), [call("get_weather", args)]) == bucket


def test_numbers_compare_by_value_and_booleans_stay_apart() -> None:
    assert same_value(1, 1.0) and same_value(2.50, 2.5) and not same_value(True, 1)
    assert same_value([" A", 1], ["a", 1.0]) and not same_value(["a", "b"], ["b", "a"])
    assert same_value({"k": " X "}, {"k": "x"}) and not same_value("5", 5)
    expect = expectation(
        {"calls": [{"name": "create_event", "args": {"title": "T", "minutes": 30}}]}
    )
    assert grade(expect, [call("create_event", {"title": "t", "minutes": 30.0})]) == "correct"
    assert grade(expect, [call("create_event", {"title": "t", "minutes": True})]) == "wrong_type"


def test_any_of_and_optional_arguments() -> None:
    expect = expectation(PARIS_OPT_UNIT)
    assert grade(expect, [call("get_weather", {"city": "Paris"})]) == "correct"
    assert grade(expect, [call("get_weather", {"city": "Paris", "unit": "celsius"})]) == "correct"
    assert grade(expect, [call("get_weather", {"city": "Paris", "unit": "fahrenheit"})]) == (
        "wrong_value"
    )
    any_city = expectation(
        {
            "calls": [
                {"name": "get_weather", "args": {"city": {"any_of": ["Paris", "Paris, France"]}}}
            ]
        }
    )
    assert grade(any_city, [call("get_weather", {"city": "paris, france"})]) == "correct"
    assert grade(any_city, [call("get_weather", {"city": "France"})]) == "wrong_value"


def test_contains_constraint_for_free_text() -> None:
    expect = expectation(
        {"calls": [{"name": "create_event", "args": {"title": {"contains": " Quarterly REVIEW"}}}]}
    )
    assert grade(expect, [call("create_event", {"title": "Q3 quarterly review"})]) == "correct"
    assert grade(expect, [call("create_event", {"title": "Quarterly sync"})]) == "wrong_value"
    assert grade(expect, [call("create_event", {})]) == "missing_arg"


def test_an_argument_named_in_the_expectation_is_required() -> None:
    expect = expectation({"calls": [{"name": "get_weather", "args": {"city": "Oslo", "days": 2}}]})
    assert grade(expect, [call("get_weather", {"city": "Oslo"})]) == "missing_arg"


def test_nested_array_items_are_type_checked() -> None:
    expect = expectation({"calls": [{"name": "create_event", "args": {"title": "Sync"}}]})
    good = {"title": "Sync", "attendees": ["a@example.com"], "private": False}
    assert grade(expect, [call("create_event", good)]) == "correct"
    assert grade(expect, [call("create_event", {**good, "attendees": [1]})]) == "wrong_type"
    assert grade(expect, [call("create_event", {**good, "attendees": "a"})]) == "wrong_type"


def test_empty_arguments_text_is_an_empty_object() -> None:
    no_params = {"type": "function", "function": {"name": "ping", "parameters": {}}}
    expect = expectation({"calls": [{"name": "ping"}]}, [no_params])
    assert grade(expect, [call("ping", "")]) == "correct"
    assert grade(expect, [call("ping", "  ")]) == "correct"
    assert grade(expectation(PARIS), [call("get_weather", "")]) == "missing_arg"


def test_arguments_sent_as_an_object_are_accepted() -> None:
    raw = {
        "id": "c",
        "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
    }
    assert grade(expectation(PARIS), [raw]) == "correct"


def test_an_expectation_without_schemas_checks_names_and_values_only() -> None:
    expect = Expectation.model_validate(PARIS)
    assert grade(expect, [call("get_weather", {"city": "Paris", "anything": [1]})]) == "correct"
    assert grade(expect, [call("get_weather", {"city": "Nice"})]) == "wrong_value"
    assert grade(expect, [call("get_weather", {})]) == "missing_arg"


def test_diagnose_explains() -> None:
    expect = expectation(PARIS)
    assert diagnose(expect, [call("get_weather", {"city": "Paris"})]) == ("correct", "")
    bucket, reason = diagnose(expect, [], "It is sunny in Paris.")
    assert bucket == "no_call" and "It is sunny" in reason
    bucket, reason = diagnose(expect, [call("get_weather", {})])
    assert bucket == "missing_arg" and "'city'" in reason
    bucket, reason = diagnose(expect, [call("get_weather", {"city": "Paris"})] * 2)
    assert bucket == "extra_call" and "got ['get_weather', 'get_weather']" in reason
