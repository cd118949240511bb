"""Multi-turn conversations: histories that grow (synthetic, shared prefix, prompt lists),
dataset turns replayed in order with the dataset's or the model's replies, turn numbers,
the `multi_turn:` schema errors, and `by_turn` / request-row accounting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_load.core.metrics.book import MetricsBook
from llm_load.core.metrics.record import RequestRecord
from llm_load.core.metrics.request_log import request_row
from llm_load.core.metrics.summary import build_summary
from llm_load.core.scenario.sampling import Conversation, Sampler
from llm_load.core.scenario.schema import Scenario, ScenarioError, load_scenario
from llm_load.core.scenario.tokens import TokenFit
from llm_load.report.console import turn_lines

BASE = {"name": "t", "models": [{"name": "m", "max_tokens": 8}]}
SYNTHETIC = {"synthetic": {"input_tokens": {"fixed": 20}}}
DIALOGUES = [
    [("system", "Be brief."), ("human", "U1"), ("gpt", "A1"), ("human", "U2"), ("gpt", "A2")],
    [("human", "V1"), ("gpt", "B1"), ("gpt", "B1b"), ("human", "V2"), ("human", "V3")],
]


def conversation(**fields: object) -> Conversation:
    return Conversation(Sampler(Scenario.model_validate({**BASE, **fields}), seed=1))


def turns(conv: Conversation, n: int, replies: list[str | None] | None = None) -> list:
    out = []
    for i in range(n):
        request = conv.next_request()
        out.append(request)
        conv.reply(replies[i] if replies is not None else f"reply {i}")
    return out


def test_synthetic_history_grows_with_the_replies_then_restarts() -> None:
    conv = conversation(prompts=SYNTHETIC, multi_turn={"turns": 3})
    requests = turns(conv, 7)
    assert [r.turn for r in requests] == [1, 2, 3, 1, 2, 3, 1]
    assert [len(r.messages) for r in requests] == [1, 3, 5, 1, 3, 5, 1]
    third = requests[2].messages
    assert [m["role"] for m in third] == ["user", "assistant", "user", "assistant", "user"]
    assert [third[1]["content"], third[3]["content"]] == ["reply 0", "reply 1"]
    assert third[:3] == requests[1].messages  # the history is resent as it was
    users = [m["content"] for m in third if m["role"] == "user"]
    assert len(set(users)) == 3 and all(len(u) == 80 for u in users)  # 20 tokens each
    assert requests[0].input_tokens == 20 and requests[1].input_tokens is None


def test_a_shared_prefix_opens_the_conversation_only() -> None:
    fit = TokenFit("test", ("alpha", "beta", "gamma", "delta"), overhead=2)
    scenario = Scenario.model_validate(
        {**BASE, "prompts": SYNTHETIC, "prefix": {"tokens": 30}, "multi_turn": {"turns": 2}}
    )
    conv = Conversation(Sampler(scenario, seed=1, fit=fit))
    first, second = turns(conv, 2)
    opening = first.messages[0]["content"].split(" ")
    assert len(opening) == 30 + 18 and first.input_tokens == 50  # prefix + unique - template
    follow_up = second.messages[2]["content"].split(" ")
    assert len(follow_up) == 18 and follow_up != opening[30:]  # no prefix, new words


def test_single_requests_have_no_turn_and_keep_no_history() -> None:
    conv = conversation(prompts=SYNTHETIC)
    requests = turns(conv, 3)
    assert [(r.turn, len(r.messages)) for r in requests] == [(None, 1)] * 3
    for _ in range(3):  # a trace replay reports replies without drawing requests
        conv.reply("")
    assert len(conv.history) == 1 and conv.turn == 0


def test_a_failed_turn_starts_a_new_conversation() -> None:
    conv = conversation(prompts=SYNTHETIC, multi_turn={"turns": 4})
    requests = turns(conv, 4, ["a", None, "b", "c"])
    assert [r.turn for r in requests] == [1, 2, 1, 2]


def write_dialogues(tmp_path: Path, multi_turn: dict, items: list = DIALOGUES) -> Path:
    data = [{"conversations": [{"from": f, "value": v} for f, v in d]} for d in items]
    (tmp_path / "d.json").write_text(json.dumps(data))
    path = tmp_path / "s.yaml"
    spec = {**BASE, "prompts": {"dataset": {"file": "d.json"}}, "multi_turn": multi_turn}
    path.write_text(json.dumps(spec))
    return path


def replay(scenario: Scenario, n: int, replies: list[str | None] | None = None) -> list:
    conv = Conversation(Sampler(scenario, seed=1))
    conv.sampler.dialogue = lambda: scenario.dialogues[0]  # type: ignore[method-assign]  # the first one
    return turns(conv, n, replies)


def test_dataset_turns_replay_in_order_with_recorded_replies(tmp_path: Path) -> None:
    scenario = load_scenario(write_dialogues(tmp_path, {"replies": "dataset"}))
    first, second, again = replay(scenario, 3)
    assert first.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "U1"},
    ]
    assert [m["content"] for m in second.messages] == ["Be brief.", "U1", "A1", "U2"]
    assert (first.turn, second.turn, again.turn) == (1, 2, 1)  # two turns: then a new one
    assert scenario.conversations[0] == first.messages  # single-turn: the first turn


def test_dataset_turns_with_the_models_replies(tmp_path: Path) -> None:
    scenario = load_scenario(write_dialogues(tmp_path, {"replies": "model", "turns": 5}))
    _, second = replay(scenario, 2, ["streamed", "x"])
    assert [m["content"] for m in second.messages] == ["Be brief.", "U1", "streamed", "U2"]


def test_recorded_replies_joined_and_missing_ones_skipped(tmp_path: Path) -> None:
    scenario = load_scenario(write_dialogues(tmp_path, {"replies": "dataset"}))
    d = scenario.dialogues[1]
    assert d.system == () and d.turns == (("V1", "B1\nB1b"), ("V2", ""), ("V3", ""))
    conv = Conversation(Sampler(scenario, seed=1))
    conv.sampler.dialogue = lambda: d  # type: ignore[method-assign]
    requests = turns(conv, 4)
    last = [(m["role"], m["content"]) for m in requests[2].messages]
    assert last == [("user", "V1"), ("assistant", "B1\nB1b"), ("user", "V2"), ("user", "V3")]
    assert [r.turn for r in requests] == [1, 2, 3, 1]


def test_turns_caps_a_dataset_conversation(tmp_path: Path) -> None:
    scenario = load_scenario(write_dialogues(tmp_path, {"turns": 1}))
    assert [r.turn for r in replay(scenario, 3)] == [1, 1, 1]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"multi_turn": {"turns": 2, "replies": "dataset"}}, "replies: dataset needs prompts"),
        ({"multi_turn": {}}, "multi_turn.turns: required"),
        ({"multi_turn": {"turns": 2, "replies": "mine"}}, "multi_turn.replies"),
        ({"multi_turn": {"turns": 2, "history": 1}}, "multi_turn.history: unknown key"),
        ({"multi_turn": {"turns": 0}}, "multi_turn.turns"),
    ],
)
def test_schema_errors_name_the_key(tmp_path: Path, fields: dict, message: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({**BASE, "prompts": SYNTHETIC, **fields}))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_validate_summary_says_the_turns(tmp_path: Path) -> None:
    scenario = load_scenario(write_dialogues(tmp_path, {"replies": "dataset"}))
    assert "conversations of every dataset turn (dataset replies)" in scenario.summary()


def record(turn: int | None, ttft_s: float, cached: int | None, **kw: object) -> RequestRecord:
    return RequestRecord(
        "m", 1_800_000_000.0, 0.5, ttft_s=ttft_s, input_tokens=100 * (turn or 1),
        output_tokens=8, usage_reported=True, cached_tokens=cached, turn=turn, **kw,
    )  # fmt: skip


def test_by_turn_summary_and_request_rows() -> None:
    book = MetricsBook()
    book.add(record(1, 0.1, 0))
    book.add(record(2, 0.05, 96))
    book.add(record(2, 0.07, 160))
    book.add(record(2, 0.01, 0, cancelled=True))  # cut off by the stop: not counted
    book.add(record(None, 0.2, None))  # a single request
    run = {"started_at": 1_800_000_000, "duration_s": 1.0, "target": "t", "settings": {}}
    by_turn = build_summary(book, **run)["by_turn"]
    assert list(by_turn) == ["1", "2"]
    assert by_turn["1"]["requests"] == 1 and by_turn["1"]["hit_ratio"] == 0.0
    two = by_turn["2"]
    assert (two["requests"], two["input_tokens_mean"], two["cached_tokens_mean"]) == (2, 200, 128)
    assert two["hit_ratio"] == 256 / 400 and two["ttft_ms"]["count"] == 2
    assert request_row(record(3, 0.1, 5))["turn"] == 3
    assert "turn" not in request_row(record(None, 0.1, 5))
    assert "by_turn" not in build_summary(MetricsBook(), **run)
    lines = turn_lines(build_summary(book, **run))  # the console's lines
    assert lines == [
        "turn 1: 1 requests, prompt 100 tokens (0 cached), TTFT p50/p99 100/100 ms",
        "turn 2: 2 requests, prompt 200 tokens (128 cached), TTFT p50/p99 50.0/70.0 ms",
    ]
