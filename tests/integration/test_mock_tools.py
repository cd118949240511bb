"""The mock's tool-case answers over real sockets: correct calls, injected wrong calls graded
against the mock's own truth, llama.cpp-style streaming, and tool results sent back."""

from __future__ import annotations

# Locust (gevent) must patch ssl before requests/urllib3 import it, in this pytest process too.
import locust  # noqa: F401

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from llm_load.core.tools.cases import ToolCase, load_tool_cases, tool_result
from llm_load.core.tools.grading import grade
from llm_load.core.wire.chat import ChatStream
from llm_load.core.wire.sse import SSEDecoder
from llm_load.mock import MockProcess, spawn_mock
from llm_load.mock.cli import build_parser, config_from_args
from llm_load.mock.config import TOOL_ERROR_KINDS
from llm_load.mock.tool_answers import tool_call_deltas

pytestmark = pytest.mark.timeout(120)
DATASET = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "tools_basic.jsonl"
CASES = load_tool_cases(DATASET)
FAST = ("--ttft-ms", "0", "--itl-ms", "0", "--tokens", "4")
TOOLS = ("--tool-cases", str(DATASET))


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # never through a proxy from the environment
        yield session


def ask(
    http: requests.Session, mock: MockProcess, case: ToolCase, stream: bool, **extra: Any
) -> ChatStream:
    """One request for ``case`` (streamed or not), accumulated like the load generator does."""
    body = {"messages": case.messages, "tools": case.tools, "tool_choice": case.tool_choice,
            "stream": stream, **extra}  # fmt: skip
    if stream:
        body["stream_options"] = {"include_usage": True}
    resp = http.post(mock.base_url + "/v1/chat/completions", json=body, timeout=10)
    assert resp.status_code == 200, resp.text
    chat = ChatStream()
    if stream:
        decoder = SSEDecoder()
        for payload in decoder.feed(resp.content) + decoder.flush():
            chat.add(payload, 0.0)
    else:
        chat.add_completion(resp.json())
    assert chat.done and chat.error is None and chat.invalid_chunks == 0
    return chat


def test_known_cases_get_their_expected_answers(http: requests.Session) -> None:
    with spawn_mock(*FAST, *TOOLS) as mock:
        for case in CASES:
            for stream in (True, False):
                chat = ask(http, mock, case, stream)
                assert grade(case.expect, chat.tool_calls, chat.content) == "correct", case.id
                calls = len(case.expect.calls or [])
                assert chat.finish_reason == ("tool_calls" if calls else "stop")
                assert len(chat.tool_calls) == calls and bool(chat.content) == (not calls)
                if stream and calls:  # id and name first, then several argument fragments
                    assert chat.token_chunks >= 3 * calls and chat.usage is not None
                    assert chat.usage["completion_tokens"] == chat.token_chunks
        truth = mock.stats()
    assert truth["tool_answers"] == {"correct": 2 * len(CASES)} and truth["tool_unmatched"] == 0
    ids = {r["tool_case"] for r in truth["requests"]}
    assert ids == {c.id for c in CASES}


@pytest.mark.parametrize(
    ("kinds", "rounds"),
    [(None, 6), (",".join(TOOL_ERROR_KINDS), 6)],
    ids=["default-kinds", "all-kinds"],
)
def test_injected_errors_graded_equal_the_truth(
    http: requests.Session, kinds: str | None, rounds: int
) -> None:
    extra = ("--tool-error-kinds", kinds) if kinds else ()
    graded: Counter[str] = Counter()
    order: list[str] = []
    with spawn_mock(*FAST, *TOOLS, "--tool-error-rate", "0.2", "--seed", "11", *extra) as mock:
        for i in range(rounds):
            for case in CASES:
                chat = ask(http, mock, case, stream=i % 2 == 0)
                order.append(grade(case.expect, chat.tool_calls, chat.content))
        graded.update(order)
        truth = mock.stats()
    n = rounds * len(CASES)
    assert truth["total"] == n and sum(truth["tool_answers"].values()) == n
    assert abs(graded["correct"] / n - 0.8) <= 1 / n  # exactly floor or ceil of 0.2 * N wrong
    assert dict(graded) == truth["tool_answers"]  # by kind, exactly
    assert order == [r["tool_answer"] for r in truth["requests"]]  # and request by request
    wrong = set(graded) - {"correct"}
    expected = set(kinds.split(",")) if kinds else {"unknown_function", "wrong_function",
        "invalid_json", "missing_arg", "wrong_type", "no_call", "call_when_irrelevant"}  # fmt: skip
    assert wrong == expected


def test_llamacpp_style_streams_the_same_calls(http: requests.Session) -> None:
    parallel = next(c for c in CASES if c.id == "parallel-stocks-3")
    with spawn_mock(*FAST, *TOOLS, "--tool-stream", "llamacpp") as mock:
        chat = ask(http, mock, parallel, stream=True)
    assert grade(parallel.expect, chat.tool_calls) == "correct"
    assert sorted(json.loads(c["function"]["arguments"])["symbol"] for c in chat.tool_calls) == [
        "AAPL", "MSFT", "NVDA"]  # fmt: skip
    # llama.cpp style: one chunk fewer per call than vLLM style (no empty-arguments head)
    assert chat.token_chunks == len(tool_call_deltas(chat.tool_calls, "llamacpp"))
    assert chat.token_chunks == len(tool_call_deltas(chat.tool_calls, "vllm")) - 3


def test_tool_results_get_a_text_answer_and_are_counted(http: requests.Session) -> None:
    case = next(c for c in CASES if c.id == "parallel-weather-time")
    with spawn_mock(*FAST, *TOOLS) as mock:
        chat = ask(http, mock, case, stream=True)
        calls = chat.tool_calls
        assert len(calls) == 2
        turn = {"role": "assistant", "content": None, "tool_calls": calls}
        results = [
            {"role": "tool", "tool_call_id": c["id"], "content": tool_result(case, c)}
            for c in calls
        ]
        messages = [*case.messages, turn, *results]
        for stream in (True, False):
            final = ask(http, mock, case, stream, messages=messages)
            assert final.tool_calls == [] and final.content and final.finish_reason == "stop"
        bogus = [*case.messages, turn, {**results[0], "tool_call_id": "call_never_issued"}]
        ask(http, mock, case, False, messages=bogus)
        truth = mock.stats()
    assert truth["tool_results_received"] == 2 + 2 + 1
    assert truth["tool_result_id_mismatches"] == 1
    assert truth["tool_answers"] == {"correct": 1}  # result turns are not tool-case answers
    assert [r["messages"] for r in truth["requests"]] == [2, 5, 5, 4]


def test_unknown_prompts_keep_the_placeholder_call(http: requests.Session) -> None:
    case = CASES[0]
    other = [{"role": "user", "content": "Something the dataset does not know"}]
    with spawn_mock(*FAST, *TOOLS) as mock:
        chat = ask(http, mock, case, True, messages=other)
        truth = mock.stats()
    assert [c["function"]["name"] for c in chat.tool_calls] == [case.tool_names[0]]
    assert chat.token_chunks == 1  # today's single-delta placeholder
    assert truth["tool_unmatched"] == 1 and truth["tool_answers"] == {}
    assert "tool_answer" not in truth["requests"][0]


def test_bad_dataset_stops_the_mock_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(DATASET.read_text().splitlines()[0] + "\n{not json\n")
    with pytest.raises(RuntimeError) as info:
        spawn_mock(*FAST, "--tool-cases", str(path))
    assert f"{path} line 2: invalid JSON" in str(info.value)


def test_tool_flags_reach_the_config() -> None:
    args = build_parser().parse_args([*TOOLS, *TOOLS, "--tool-error-rate", "0.3",
        "--tool-error-kinds", "no_call, extra_call", "--tool-stream", "llamacpp"])  # fmt: skip
    config = config_from_args(args)
    assert len(config.tool_cases) == 2 * len(CASES) and config.tool_error_rate == 0.3
    assert config.tool_error_kinds == ("no_call", "extra_call")
    assert config.tool_stream == "llamacpp"
    for bad in (["--tool-error-rate", "1.5"], ["--tool-error-kinds", "typo"]):
        with pytest.raises(ValueError, match="tool error"):
            config_from_args(build_parser().parse_args(bad))
