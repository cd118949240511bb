"""The tool dataset: the loader's located errors, the shipped cases, canned results, and the
mock's deliberately wrong answers (each grades as the kind it was made to be)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from llm_load.core.scenario.errors import ScenarioError
from llm_load.core.tools.cases import (
    CATEGORIES,
    ToolCase,
    expected_calls,
    last_user_text,
    load_tool_cases,
    tool_result,
)
from llm_load.core.tools.grading import grade
from llm_load.mock.config import TOOL_ERROR_KINDS
from llm_load.mock.tool_answers import ErrorSchedule, ToolBook, wrong_answer

DATASET = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "tools_basic.jsonl"
CASES = load_tool_cases(DATASET)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city", "days"],
        },
    },
}
GOOD = {
    "id": "w1",
    "messages": [{"role": "user", "content": "Weather in Paris?"}],
    "tools": [WEATHER],
    "expect": {"calls": [{"name": "get_weather", "args": {"city": "Paris"}}]},
    "results": {"get_weather": {"temperature": 18}},
}


def as_openai(calls: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": a}}
        for i, (n, a) in enumerate(calls)
    ]


def write(tmp_path: Path, *lines: Any) -> Path:
    path = tmp_path / "cases.jsonl"
    text = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def error_of(tmp_path: Path, *lines: Any) -> str:
    with pytest.raises(ScenarioError) as info:
        load_tool_cases(write(tmp_path, *lines))
    return str(info.value)


# -- the shipped dataset ------------------------------------------------------------------


def test_shipped_dataset_covers_every_category_and_tool_choice() -> None:
    assert 30 <= len(CASES) <= 40
    categories = Counter(c.category for c in CASES)
    assert set(categories) == set(CATEGORIES) and min(categories.values()) >= 5
    choices = {c.tool_choice if isinstance(c.tool_choice, str) else "named" for c in CASES}
    assert choices == {"auto", "required", "none", "named"}
    assert all(c.results for c in CASES)
    assert max(len(c.expect.calls or []) for c in CASES) == 3
    texts = [last_user_text(c.messages) for c in CASES]
    assert len(set(texts)) == len(texts)  # the mock tells cases apart by the last user message


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_each_case_s_expected_answer_grades_correct(case: ToolCase) -> None:
    answer = [(c["name"], json.dumps(c["arguments"])) for c in expected_calls(case)]
    assert grade(case.expect, as_openai(answer)) == "correct"
    assert grade(case.expect, as_openai(answer[::-1])) == "correct"


@pytest.mark.parametrize("kind", TOOL_ERROR_KINDS)
def test_each_injected_wrong_kind_grades_as_that_kind(kind: str) -> None:
    applied = 0
    for case in CASES:
        calls = wrong_answer(kind, case)
        if calls is None:
            continue
        applied += 1
        assert grade(case.expect, as_openai(calls), "some text") == kind, case.id
        assert grade(case.expect, as_openai(calls[::-1]), "some text") == kind, case.id
    assert applied >= 5


def test_kinds_that_apply_to_every_call_case() -> None:
    for case in CASES:
        for kind in ("unknown_function", "invalid_json", "extra_call", "no_call"):
            assert (wrong_answer(kind, case) is None) == case.expect.no_call
        others = set(case.tool_names) - {c.name for c in case.expect.calls or []}
        applies = not case.expect.no_call and bool(others)
        assert (wrong_answer("wrong_function", case) is not None) == applies, case.id


# -- the mock's error schedule ------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.2, 1 / 3, 0.5, 0.99, 1.0])
@pytest.mark.parametrize("seed", [0, 7])
def test_error_schedule_is_exact_over_any_window(rate: float, seed: int) -> None:
    schedule = ErrorSchedule(rate, seed)
    flags = [schedule.next_is_wrong() for _ in range(1000)]
    for start, size in ((0, 1000), (0, 10), (137, 50), (500, 333)):
        wrong = sum(flags[start : start + size])
        assert size * rate - 1 <= wrong <= size * rate + 1


def test_book_cycles_kinds_and_counts_exactly() -> None:
    book = ToolBook(CASES, error_rate=0.2, seed=3)
    counts: Counter[str] = Counter()
    for _ in range(5):
        for case in CASES:
            kind, calls = book.answer(case)
            assert grade(case.expect, as_openai(calls)) == kind
            counts[kind] += 1
    total = 5 * len(CASES)
    assert abs(total - counts["correct"] - 0.2 * total) <= 1
    assert {"wrong_function", "invalid_json", "missing_arg", "wrong_type", "no_call"} <= set(counts)


def test_book_finds_a_case_by_last_user_message_and_tools() -> None:
    book = ToolBook(CASES)
    case = CASES[3]
    history = [*case.messages, {"role": "assistant", "content": "ok"}]
    follow = [*history, {"role": "user", "content": f"  {last_user_text(case.messages)}\n"}]
    assert book.find(follow, case.tool_names) is case
    assert book.find(case.messages, ["something_else"]) is case  # text alone still matches
    assert book.find([{"role": "user", "content": "unknown"}], case.tool_names) is None


# -- loader errors --------------------------------------------------------------------------


def test_good_case_loads_and_derives_its_category(tmp_path: Path) -> None:
    [case] = load_tool_cases(write(tmp_path, "", GOOD, "   "))
    assert case.category == "single" and case.tool_choice == "auto"
    assert case.expect.functions == {"get_weather": WEATHER["function"]["parameters"]}
    # `days` is required by the schema but not constrained: a typed placeholder
    assert expected_calls(case) == [
        {"name": "get_weather", "arguments": {"city": "Paris", "days": 1}}
    ]


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD, '{"id": "x", "messages": [}')
    assert message.startswith(f"{tmp_path / 'cases.jsonl'} line 2: invalid JSON:")
    assert "column" in message


def test_not_an_object(tmp_path: Path) -> None:
    assert "line 1: expected a JSON object (got list)" in error_of(tmp_path, [GOOD])


def test_unknown_key_names_the_key_path_and_the_allowed_keys(tmp_path: Path) -> None:
    bad = {**GOOD, "expect": {"calls": [{"name": "get_weather", "arg": {"city": "Paris"}}]}}
    message = error_of(tmp_path, GOOD, bad)
    assert "line 2: expect.calls[0].arg: unknown key; expected one of: name, args" in message
    assert "did you mean 'args'?" in message
    assert "line 1: tool_choise: unknown key" in error_of(tmp_path, {**GOOD, "tool_choise": "auto"})


def test_missing_expect(tmp_path: Path) -> None:
    case = {k: v for k, v in GOOD.items() if k != "expect"}
    assert "line 1: expect: required key is missing" in error_of(tmp_path, case)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"expect": {}}, 'expect: expected exactly one of "calls": [...] or "no_call": true'),
        (
            {"expect": {"no_call": True, "calls": [{"name": "get_weather"}]}},
            "expect: expected exactly one of",
        ),
        ({"expect": {"calls": []}}, "expect.calls: List should have at least 1 item"),
        (
            {"expect": {"calls": [{"name": "get_time"}]}},
            "expect.calls[0].name: 'get_time' is not an offered function",
        ),
        (
            {"expect": {"calls": [{"name": "get_weather", "args": {"town": "Paris"}}]}},
            "expect.calls[0].args: 'town' is not in the schema",
        ),
        (
            {"expect": {"calls": [{"name": "get_weather", "args": {"city": {"any_of": []}}}]}},
            'args.city: expected {"any_of": [value, ...]}',
        ),
        (
            {"expect": {"calls": [{"name": "get_weather", "args": {"city": {"contains": 3}}}]}},
            'args.city: expected {"contains": "text"}',
        ),
        ({"tool_choice": "always"}, 'tool_choice: expected "auto", "required", "none"'),
        ({"tool_choice": "none"}, 'tool_choice: "none" contradicts the expected calls'),
        (
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice: 'nope' is not an offered function",
        ),
        ({"category": "parallel"}, "category: the expectation makes this 'single'"),
        ({"results": {"get_wether": {}}}, "results: 'get_wether' is not an offered function"),
        ({"tools": [{"type": "function"}]}, 'tools[0]: expected {"type": "function"'),
        ({"messages": [{"role": "system", "content": "x"}]}, "at least one user message"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role: expected one of"),
        (
            {"expect": {"calls": [{"name": "get_weather", "args": {"city": "P", "unit": "K"}}]}},
            "expect: the expected answer itself grades wrong_type",
        ),
    ],
)
def test_inconsistent_cases_are_rejected_with_the_key_path(
    tmp_path: Path, change: dict, expected: str
) -> None:
    message = error_of(tmp_path, {**GOOD, **change})
    assert message.startswith(f"{tmp_path / 'cases.jsonl'} line 1: ")
    assert expected in message


def test_required_contradicts_no_call(tmp_path: Path) -> None:
    case = {**GOOD, "expect": {"no_call": True}, "tool_choice": "required"}
    assert '"required" contradicts "no_call"' in error_of(tmp_path, case)


def test_every_problem_is_listed_and_duplicate_ids_are_caught(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD, "{", GOOD, {**GOOD, "id": "w2", "expect": {}})
    lines = message.splitlines()
    assert len(lines) == 3
    assert "line 2: invalid JSON" in lines[0]
    assert "line 3: id: duplicate 'w1' (first on line 1)" in lines[1]
    assert "line 4: expect:" in lines[2]


def test_unreadable_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_tool_cases(tmp_path / "missing.jsonl")
    with pytest.raises(ScenarioError, match="no tool cases"):
        load_tool_cases(write(tmp_path, ""))


# -- canned results and helpers -------------------------------------------------------------


def test_tool_result_is_the_canned_result_or_a_stub() -> None:
    case = ToolCase.model_validate({**GOOD, "results": {"get_weather": {"temperature": 18}}})
    weather = {"id": "a", "function": {"name": "get_weather", "arguments": "{}"}}
    assert json.loads(tool_result(case, weather)) == {"temperature": 18}
    text_case = ToolCase.model_validate({**GOOD, "results": {"get_weather": "Sunny, 18°C"}})
    assert tool_result(text_case, weather) == "Sunny, 18°C"
    other = {"id": "b", "function": {"name": "made_up", "arguments": "{}"}}
    stub = tool_result(case, other)
    assert stub == tool_result(case, other) and json.loads(stub)["function"] == "made_up"


def test_last_user_text_reads_text_parts() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url"},
                                     {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "x"},
    ]  # fmt: skip
    assert last_user_text(messages) == "ab" and last_user_text([]) == ""
