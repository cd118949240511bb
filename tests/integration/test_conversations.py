"""Multi-turn conversations against the mock's truth: each turn resends the whole history
(the message CRCs the mock recorded: the previous request's messages, the exact reply the
mock streamed, a new user turn), the mock's prefix cache serves the resent history
(`cached_tokens` grows turn by turn, to the block), `by_turn` and the request rows agree
with it; dataset turns replay in order with the dataset's or the model's replies; and the
same on a master with two workers."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest

from llm_load.mock.payload import VOCAB
from llm_load.mock.prefix_cache import BLOCK_CHARS, BLOCK_TOKENS
from llm_load.mock.process import spawn_mock
from tests.conftest import load
from tests.integration.test_scenarios import run, scenario

pytestmark = pytest.mark.timeout(150)
REPLY_TOKENS = 26  # the mock's reply: quotes, a backslash, a newline, é and an emoji
MOCK = ("--ttft-ms", "5", "--itl-ms", "1", "--tokens", str(REPLY_TOKENS), "--prompt-tokens-details")


def crc(text: str) -> int:
    return zlib.crc32(text.encode())


REPLY = {"role": "assistant", "crc32": crc("".join(VOCAB[:REPLY_TOKENS]))}


def conversation_scenario(tmp_path: Path, **load_: object) -> Path:
    return scenario(
        tmp_path,
        models=[{"name": "mock-llm", "max_tokens": 32}],
        prompts={"synthetic": {"input_tokens": {"fixed": 40}}},
        multi_turn={"turns": 3},
        tokenizer="estimate",  # no probe requests in the truth
        load={"users": 4, "spawn_rate": 4, "run_time": "4s", **load_},
    )


def check_conversations(truth: list[dict]) -> list[list[dict]]:
    """Group the requests by their first message (unique per conversation) and check each
    turn against the one before; the groups, in order."""
    groups: dict[int, list[dict]] = {}
    for r in sorted(truth, key=lambda r: r["id"]):
        groups.setdefault(r["history"][0]["crc32"], []).append(r)
    for group in groups.values():
        assert [r["messages"] for r in group] == [1, 3, 5][: len(group)], group
        assert group[0]["cached_tokens"] == 0  # a new, unique first turn
        for before, now in pairwise(group):
            seen = before["history"]
            assert now["history"][: len(seen)] == seen  # the history, resent as it was
            assert now["history"][len(seen)] == REPLY  # the exact text the mock streamed
            assert now["history"][-1]["role"] == "user"
            # everything sent before is cached, whole blocks of it
            expected = before["prompt_chars"] // BLOCK_CHARS * BLOCK_TOKENS
            assert now["cached_tokens"] == expected > before["cached_tokens"]
    return list(groups.values())


def check_by_turn(summary: dict, truth: list[dict]) -> dict:
    by_turn = summary["by_turn"]
    assert list(by_turn) == ["1", "2", "3"]
    cancelled = summary["totals"]["cancelled"]
    for turn, entry in by_turn.items():
        sent = [r for r in truth if r["messages"] == 2 * int(turn) - 1]
        done = [r for r in sent if r["completed"]]
        assert len(done) - cancelled <= entry["requests"] <= len(sent)
        assert entry["failures"] == 0 and entry["ttft_ms"]["count"] == entry["requests"]
    means = [by_turn[t]["cached_tokens_mean"] for t in ("1", "2", "3")]
    assert means[0] == 0 < means[1] < means[2]
    assert by_turn["1"]["input_tokens_mean"] < by_turn["3"]["input_tokens_mean"]
    return by_turn


def test_a_conversation_grows_with_the_mocks_replies_and_its_cache(tmp_path, summary_path):
    rows_path = tmp_path / "rows.jsonl"
    path = conversation_scenario(tmp_path)
    with spawn_mock(*MOCK) as mock:
        outputs = ("--llm-json", str(summary_path), "--llm-requests", str(rows_path))
        proc = run(path, mock.base_url, *outputs)
        truth = mock.stats(detail=True)["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    groups = check_conversations(truth)
    assert sum(len(g) == 3 for g in groups) >= 8  # whole conversations, several per user
    s = load(summary_path)
    check_by_turn(s, truth)
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    ok = Counter((r["turn"], r["cached_tokens"]) for r in rows if r["status"] == "ok")
    served = Counter(
        ((r["messages"] + 1) // 2, r["cached_tokens"]) for r in truth if r["completed"]
    )
    assert ok <= served and served.total() - ok.total() <= s["totals"]["cancelled"]


def test_two_workers_each_hold_their_own_conversations(tmp_path, summary_path):
    from tests.integration.test_distributed import cluster
    from tests.integration.test_scenario_distributed import SCENARIO_LOCUSTFILE, finish

    path = conversation_scenario(tmp_path)
    rows_path = tmp_path / "rows.jsonl"
    extra = ("--scenario", str(path), "--llm-requests", str(rows_path))
    with spawn_mock(*MOCK) as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 4, "4s", *extra, locustfile=SCENARIO_LOCUSTFILE
        )
        _, err = finish(master, workers)
        truth = mock.stats(detail=True)["requests"]
    assert master.returncode == 0, err[-3000:]
    groups = check_conversations(truth)
    assert sum(len(g) == 3 for g in groups) >= 8
    check_by_turn(load(summary_path), truth)
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert len({r["worker"] for r in rows}) == 2 and {r["turn"] for r in rows} == {1, 2, 3}


DIALOGUES = [
    [
        {"role": "system", "content": "Answer in one line."},
        {"role": "user", "content": "Which river runs through Vienna?"},
        {"role": "assistant", "content": "The Danube — Europe's second longest river."},
        {"role": "user", "content": "And through Budapest?"},
        {"role": "assistant", "content": "The Danube again: it splits Buda from Pest."},
        {"role": "user", "content": "Where does it end?"},
        {"role": "assistant", "content": "In the Black Sea, through a wide delta."},
    ],
    [
        {"role": "user", "content": "What is a prefix cache?"},
        {"role": "assistant", "content": "Stored attention keys and values of a prompt start."},
        {"role": "user", "content": "Why does it help multi-turn chats?"},
        {"role": "assistant", "content": "Each turn resends the history: the cache skips it."},
        {"role": "user", "content": "Does it change the output?"},
    ],
]


def expected_turns(dialogue: list[dict], replies: str) -> list[list[dict]]:
    """The histories (role, CRC) of turns 1, 2, 3 of `dialogue`."""
    digests = [
        REPLY if m["role"] == "assistant" and replies == "model" else
        {"role": m["role"], "crc32": crc(m["content"])}
        for m in dialogue
    ]  # fmt: skip
    users = [i for i, m in enumerate(dialogue) if m["role"] == "user"]
    return [digests[: i + 1] for i in users]


@pytest.mark.parametrize("replies", ["dataset", "model"])
def test_dataset_turns_replay_in_order(tmp_path, summary_path, replies):
    (tmp_path / "chats.jsonl").write_text(
        "\n".join(json.dumps({"messages": d}, ensure_ascii=False) for d in DIALOGUES)
    )
    path = scenario(
        tmp_path,
        models=[{"name": "mock-llm", "max_tokens": 32}],
        prompts={"dataset": {"file": "chats.jsonl"}},
        multi_turn={"replies": replies},  # every turn of each conversation
        load={"users": 1, "spawn_rate": 1, "run_time": "3s"},  # one user: the truth in order
    )
    with spawn_mock(*MOCK) as mock:
        proc = run(path, mock.base_url, "--llm-json", str(summary_path))
        truth = sorted(mock.stats(detail=True)["requests"], key=lambda r: r["id"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    conversations = [expected_turns(d, replies) for d in DIALOGUES]
    replayed, turns = Counter(), None
    for r in truth:
        if turns is None:  # a new conversation opens with one of the dataset's first turns
            turns = next(t for t in conversations if t[0] == r["history"])
            k = 0
        assert r["history"] == turns[k], (k, r["history"])
        k += 1
        if k == len(turns):
            replayed[conversations.index(turns)] += 1
            turns = None
    assert replayed[0] >= 2 and replayed[1] >= 2  # both, whole, more than once
    by_turn = load(summary_path)["by_turn"]
    assert list(by_turn) == ["1", "2", "3"] and by_turn["3"]["requests"] >= 4
    assert by_turn["3"]["cached_tokens_mean"] > by_turn["2"]["cached_tokens_mean"] > 0


@pytest.mark.parametrize("name", ["conversation", "chat-replay"])
def test_shipped_conversation_scenarios_run_against_the_mock(summary_path, name):
    from tests.conftest import ROOT

    with spawn_mock(*MOCK) as mock:
        path = ROOT / "scenarios" / f"{name}.yaml"
        proc = run(path, mock.base_url, "-t", "4s", "--llm-json", str(summary_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    by_turn = s["by_turn"]
    assert {"1", "2", "3"} <= set(by_turn) and by_turn["3"]["requests"] > 0
    means = [by_turn[t]["cached_tokens_mean"] for t in ("1", "2", "3")]
    assert means[0] < means[1] < means[2]
    if name == "conversation":  # the first turn is token-exact (prefix + unique part)
        drift = s["totals"]["input_tokens_drift"]
        assert drift["exact"] == drift["checked"] == by_turn["1"]["requests"]
        assert by_turn["1"]["input_tokens_mean"] == 256 + 128
