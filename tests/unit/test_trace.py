"""Trace files (Mooncake JSONL and CSV) and their schedule split over workers."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_load.core.scenario.errors import ScenarioError
from llm_load.core.scenario.trace import TraceSchedule, read_trace

JSONL = """{"timestamp": 1500, "input_length": 600, "output_length": 20, "hash_ids": [0, 7]}
{"timestamp": 1000, "input_length": 30, "output_length": 5}

{"timestamp": 1000, "input_length": 40, "output_length": 6, "hash_ids": [0]}
"""
CSV = """timestamp,input_length,output_length,hash_ids
1500,600,20,0 7
1000,30,5,
1000,40,6,0
"""


def test_jsonl_and_csv_give_the_same_requests_in_time_order(tmp_path: Path):
    (tmp_path / "t.jsonl").write_text(JSONL)
    (tmp_path / "t.csv").write_text(CSV)
    a = read_trace(tmp_path / "s.yaml", "t.jsonl")
    assert a == read_trace(tmp_path / "s.yaml", "t.csv")
    assert [(e.at_s, e.input_tokens, e.hash_ids) for e in a] == [
        (0.0, 30, ()), (0.0, 40, (0,)), (0.5, 600, (0, 7))
    ]  # fmt: skip


def test_shares_take_every_request_once_at_its_scaled_time(tmp_path: Path):
    (tmp_path / "t.jsonl").write_text(JSONL)
    entries = read_trace(tmp_path / "s.yaml", "t.jsonl")
    seen = []
    for rank in (0, 1):
        schedule = TraceSchedule(entries, time_scale=2.0)
        schedule.set_share(rank, 2)
        while (t := schedule.next()) is not None:
            assert schedule.last is not None and t == schedule.last.at_s * 2.0
            seen.append(schedule.last)
    assert sorted(seen, key=lambda e: (e.at_s, e.input_tokens)) == entries


@pytest.mark.parametrize(
    "text",
    [
        '{"timestamp": 1, "input_length": 3}',
        '{"timestamp": 1, "input_length": 0, "output_length": 1}',
        "[1",
    ],
)
def test_bad_entries_name_the_file_and_line(tmp_path: Path, text: str):
    (tmp_path / "t.jsonl").write_text(text)
    with pytest.raises(ScenarioError, match=r"t\.jsonl"):
        read_trace(tmp_path / "s.yaml", "t.jsonl")


@pytest.mark.parametrize("input_tokens", [1, 4, 8, 10, 11, 12, 13, 20, 27, 40])
def test_traced_prompts_are_exact_with_the_template_counted(input_tokens: int):
    from llm_load.core.scenario.sampling import Sampler
    from llm_load.core.scenario.schema import Scenario
    from llm_load.core.scenario.tokens import TokenFit
    from llm_load.core.scenario.trace import TraceEntry

    scenario = Scenario.model_validate(
        {"name": "t", "models": [{"name": "m"}], "trace": {"file": "t", "block_tokens": 8}}
    )
    fit = TokenFit("words", ("a", "b", "c"), overhead=3)  # one token a word, 3 around them
    sampler = Sampler(scenario, seed=1, fit=fit)
    entry = TraceEntry(0.0, input_tokens, 5, (7, 8, 9))
    request = sampler.from_trace(entry)
    words = request.messages[0]["content"].split()
    assert len(words) + 3 == max(input_tokens, 4) and request.max_tokens == 5
    blocks = min(3, max(0, input_tokens - 3) // 8)
    again = sampler.from_trace(entry).messages[0]["content"].split()
    assert words[: 8 * blocks] == again[: 8 * blocks]  # the shared blocks are the same text
