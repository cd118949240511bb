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


# The mock's tokenizer: BOS plus one token per whole 4 characters (llm_load.mock.tokenize).
def mock_count(text: str) -> int:
    return len(text) // 4 + 1


# (prompt characters, reference characters): estimates round(chars / 4), the mock's floor
FILTERED = [(39, 8), (41, 8), (43, 8), (20, 8), (42, 23)]
FILTERS = {"min_input_tokens": 10, "max_input_tokens": 10, "max_output_tokens": 5}


def filtered_scenario(tmp_path: Path, **extra: object):
    items = [conv(("human", "x" * n), ("gpt", "y" * r)) for n, r in FILTERED]
    return load_scenario(
        scenario(tmp_path, {"file": sharegpt(tmp_path, items), **FILTERS, **extra})
    )


def test_real_counts_select_other_entries_than_estimates_each_counted_once(tmp_path):
    from llm_load.core.scenario.datasets import select_counted

    s = filtered_scenario(tmp_path)
    # estimates: 39 -> 10 in, 43 -> 11 out of range, 42's reply 23 -> 6 > 5
    assert sorted(len(c[0]["content"]) for c in s.conversations) == [39, 41]
    texts: list[str] = []

    def count(text: str) -> int:
        texts.append(text)
        return mock_count(text)

    picked = select_counted(s.dataset_examples, s.prompts.dataset, count)
    # real counts (BOS taken off): 39 -> 9, 41/42/43 -> 10, 42's reply -> 5
    assert sorted(len(d.turns[0][0]) for d in picked.dialogues) == [41, 42, 43]
    assert picked.public() == {"entries": 5, "counted": 5, "kept": 3, "limited": False}
    # the empty text (BOS) once, 5 prompts, and the replies of the 3 prompts in range
    prompts = sorted(len(t) for t in texts if t.startswith("x"))
    replies = sorted(len(t) for t in texts if t.startswith("y"))
    assert texts[0] == "" and len(texts) == 1 + 5 + 3
    assert prompts == [20, 39, 41, 42, 43] and replies == [8, 8, 23]


def test_counting_stops_at_the_sample_or_the_count_limit(tmp_path):
    from llm_load.core.scenario.datasets import select_counted

    s = filtered_scenario(tmp_path, sample=1, seed=5)
    one = select_counted(s.dataset_examples, s.prompts.dataset, mock_count)
    assert len(one.dialogues) == 1 and one.counted < 5 and not one.limited
    again = select_counted(s.dataset_examples, s.prompts.dataset, mock_count)
    assert again == one  # seeded
    s = filtered_scenario(tmp_path, count_limit=2)
    few = select_counted(s.dataset_examples, s.prompts.dataset, mock_count)
    assert few.counted == 2 and few.limited and len(few.dialogues) <= 2
