"""Conversation datasets: ShareGPT JSON and OpenAI-messages JSONL, first turns, filters,
a seeded sample, errors naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_load.core.scenario.schema import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]


def scenario(tmp_path: Path, dataset: dict) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        json.dumps({"name": "d", "models": [{"name": "m"}], "prompts": {"dataset": dataset}})
    )
    return path


def sharegpt(tmp_path: Path, items: list) -> str:
    (tmp_path / "data.json").write_text(json.dumps(items))
    return "data.json"


def conv(*turns: tuple[str, str]) -> dict:
    return {"conversations": [{"from": f, "value": v} for f, v in turns]}


def test_sharegpt_first_turns_with_system_messages(tmp_path):
    items = [
        conv(("system", "Be brief."), ("human", "Hi?"), ("gpt", "Hello."), ("human", "More?")),
        conv(("gpt", "no user turn at all")),
        conv(("human", "Second?"), ("gpt", "Yes.")),
    ]
    s = load_scenario(scenario(tmp_path, {"file": sharegpt(tmp_path, items)}))
    assert s.conversations == [
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}],
        [{"role": "user", "content": "Second?"}],
    ]


def test_messages_jsonl_drops_the_reference_reply(tmp_path):
    lines = [
        {"messages": [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}]},
        {"messages": [{"role": "user", "content": "Q2"}]},
    ]
    (tmp_path / "d.jsonl").write_text("\n".join(map(json.dumps, lines)))
    s = load_scenario(scenario(tmp_path, {"file": "d.jsonl"}))
    assert s.conversations == [
        [{"role": "user", "content": "Q1"}],
        [{"role": "user", "content": "Q2"}],
    ]


def test_filters_and_a_seeded_sample(tmp_path):
    items = [conv(("human", "x" * 4 * n), ("gpt", "y" * 4 * (100 - n))) for n in range(1, 100)]
    file = sharegpt(tmp_path, items)
    spec = {"file": file, "min_input_tokens": 10, "max_input_tokens": 60, "min_output_tokens": 50}
    kept = load_scenario(scenario(tmp_path, spec)).conversations
    assert sorted(len(c[0]["content"]) // 4 for c in kept) == list(range(10, 51))
    sample = {**spec, "sample": 5, "seed": 3}
    a = load_scenario(scenario(tmp_path, sample)).conversations
    b = load_scenario(scenario(tmp_path, sample)).conversations
    assert a == b and len(a) == 5 and all(c in kept for c in a)
    other = load_scenario(scenario(tmp_path, {**sample, "seed": 4})).conversations
    assert other != a


def test_nothing_left_or_unreadable_is_an_error_naming_the_file(tmp_path):
    file = sharegpt(tmp_path, [conv(("human", "short"), ("gpt", "ok"))])
    with pytest.raises(ScenarioError, match="passes the filters"):
        load_scenario(scenario(tmp_path, {"file": file, "min_input_tokens": 100}))
    (tmp_path / "bad.json").write_text("[{")
    with pytest.raises(ScenarioError, match=r"bad\.json: invalid JSON"):
        load_scenario(scenario(tmp_path, {"file": "bad.json"}))


def test_the_shipped_sample():
    s = load_scenario(ROOT / "scenarios" / "sharegpt.yaml")
    assert len(s.conversations) == 8 and all(c[-1]["role"] == "user" for c in s.conversations)
