"""Workloads against the mock's truth: token-exact synthetic prompts (the mock's /tokenize,
or usage probes), exact output lengths (ignore_eos), requested vs reported input tokens."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import ROOT, load
from tests.integration.test_scenarios import run, scenario

pytestmark = pytest.mark.timeout(120)
MOCK = ("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "3")


def exact_scenario(tmp_path, input_tokens: int = 100, **fields: object):
    prompts = {"synthetic": {"input_tokens": {"fixed": input_tokens}}}
    output = {"tokens": {"fixed": 5}, "exact": True}
    return scenario(tmp_path, prompts=prompts, output=output, **fields)


def run_exact(tmp_path, summary_path, *args: str, **fields: object):
    """(summary, mock truth of the finished requests) of a token-exact 3 s run."""
    path = exact_scenario(tmp_path, **fields)
    with spawn_mock(*MOCK) as mock:
        proc = run(path, mock.base_url, "--llm-json", str(summary_path), *args)
        truth = [r for r in mock.stats()["requests"] if r["completed"]]
    assert proc.returncode == 0, proc.stderr[-3000:]
    return load(summary_path), truth


def mock_tokens(prompt_chars: int) -> int:
    return prompt_chars // 4 + 1  # the mock's usage.prompt_tokens (and /tokenize count)


@pytest.mark.parametrize("tokenizer", ["server", "usage"])
def test_every_prompt_has_exactly_the_tokens_asked_for(tmp_path, summary_path, tokenizer):
    s, truth = run_exact(tmp_path, summary_path, "--tokenizer", tokenizer)
    assert s["tokenizer"]["source"].startswith(tokenizer)
    assert s["tokenizer"]["verified"] == "3/3 sample texts exact"
    traffic = [r for r in truth if r["tokens"] != 1]  # not the one-token probe requests
    assert Counter(mock_tokens(r["prompt_chars"]) for r in traffic) == {100: len(traffic)}
    assert Counter(r["tokens"] for r in traffic) == {5: len(traffic)}  # the mock's own is 3
    totals = s["totals"]
    drift = totals["input_tokens_drift"]
    assert drift["checked"] == drift["exact"] == totals["requests"] > 20
    assert not drift["drift"] and drift["max_abs_tokens"] == 0
    # a request cut off at the stop is cancelled (not counted) though the mock may finish it
    assert 0 <= len(traffic) - totals["requests"] <= totals["cancelled"]
    probes = len(truth) - len(traffic)  # 2 template probes (+ the counting ones for usage)
    assert probes == 2 if tokenizer == "server" else probes > 2


def test_estimated_prompts_show_their_drift(tmp_path, summary_path):
    s, truth = run_exact(tmp_path, summary_path, "--tokenizer", "estimate", tokenizer="server")
    assert "tokenizer" not in s  # the flag wins over the scenario's tokenizer:
    drift = s["totals"]["input_tokens_drift"]
    assert drift["checked"] == s["totals"]["requests"] > 0
    assert drift["drift"] and drift["exact"] < drift["checked"]
    assert {mock_tokens(r["prompt_chars"]) for r in truth} == {101}  # 400 chars: ~4 a token


def test_mock_tokenize_answers_in_each_servers_shape():
    with spawn_mock(*MOCK) as mock:

        def post(body: dict) -> dict:
            req = urllib.request.Request(
                mock.base_url + "/tokenize", json.dumps(body).encode(), method="POST"
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.load(resp)

        vllm = post({"model": "mock-llm", "prompt": "the cat sat"})
        llama = post({"content": "the cat sat"})
    assert vllm["count"] == len(vllm["tokens"]) == mock_tokens(len("the cat sat")) == 3
    assert llama == {"tokens": vllm["tokens"]}


def test_shared_prefixes_hit_the_mocks_prefix_cache(tmp_path, summary_path):
    prefix = {"groups": 2, "tokens": 256, "weights": [3, 1]}
    path = exact_scenario(tmp_path, input_tokens=64, prefix=prefix)
    with spawn_mock(*MOCK, "--prompt-tokens-details") as mock:
        proc = run(path, mock.base_url, "--llm-json", str(summary_path))
        truth = [r for r in mock.stats()["requests"] if r["completed"] and r["tokens"] == 5]
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 256 shared + 64 unique tokens each; the first request of each group misses, every
    # other finds the whole prefix (16 blocks of 16 tokens) in the mock's cache
    assert {mock_tokens(r["prompt_chars"]) for r in truth} == {320}
    assert Counter(r["cached_tokens"] for r in truth) == {0: 2, 256: len(truth) - 2}
    totals = load(summary_path)["totals"]
    cache, n = totals["prefix_cache"], totals["requests"]
    assert cache["requests_reported"] == n > 20 and totals["input_tokens_drift"]["exact"] == n
    assert cache["hits"] == n - 2 and totals["cached_tokens"] == 256 * (n - 2)
    assert cache["hit_ratio"] == pytest.approx(256 * (n - 2) / (320 * n))
    assert totals["ttft_cache_hit_ms"]["count"] == n - 2
    assert totals["ttft_cache_miss_ms"]["count"] == 2


@pytest.mark.parametrize("name", ["token-exact", "prefix-cache", "reasoning"])
def test_shipped_workload_scenarios_run_against_the_mock(summary_path, name):
    mock_args = ("--prompt-tokens-details", "--reasoning-tokens", "32")
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", *mock_args) as mock:
        path = ROOT / "scenarios" / f"{name}.yaml"
        proc = run(path, mock.base_url, "-t", "3s", "--llm-json", str(summary_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    totals = load(summary_path)["totals"]
    if name == "reasoning":
        assert totals["reasoning"]["tokens"] == 32 * totals["requests"] > 0
        return
    drift = totals["input_tokens_drift"]
    assert drift["exact"] == drift["checked"] == totals["requests"] > 0
    if name == "prefix-cache":
        assert totals["prefix_cache"]["hits"] >= totals["requests"] - 4


def test_sharegpt_sample_replays_its_first_turns(summary_path):
    from llm_load.core.scenario.schema import load_scenario

    path = ROOT / "scenarios" / "sharegpt.yaml"
    expected = {sum(len(m["content"]) for m in c) for c in load_scenario(path).conversations}
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8") as mock:
        proc = run(path, mock.base_url, "-t", "3s", "--llm-json", str(summary_path))
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    sent = {r["prompt_chars"] for r in truth}
    assert sent == expected  # the sampled conversations (by length), nothing else
    assert load(summary_path)["totals"]["requests"] > 20


def test_reasoning_phase_gives_ttfo_and_reasoning_tokens(summary_path):
    from tests.conftest import nearest_rank, short_run

    mock_args = ("--ttft-ms", "10", "--itl-ms", "5", "--tokens", "10", "--reasoning-tokens", "6")
    with spawn_mock(*mock_args) as mock:
        proc = short_run(mock.base_url, summary_path, "--model", "mock-llm", "--max-tokens", "12")
        truth = [r for r in mock.stats(detail=True)["requests"] if r["completed"]]
    assert proc.returncode == 0, proc.stderr[-3000:]
    totals = load(summary_path)["totals"]
    n = totals["requests"]
    # 6 reasoning tokens, then 6 answer tokens (max_tokens 12 caps both, as servers do)
    assert {r["tokens"] for r in truth} == {12} and totals["output_tokens"] >= 12 * n
    assert totals["reasoning"] == {"requests": n, "tokens": 6 * n, "estimated_requests": 0}
    true_ttfo = nearest_rank([r["token_offsets_ms"][6] for r in truth], 50)
    true_ttft = nearest_rank([r["ttft_ms"] for r in truth], 50)
    assert abs(totals["ttfo_ms"]["p50"] - true_ttfo) < 3
    assert abs(totals["ttft_ms"]["p50"] - true_ttft) < 3
    assert totals["ttfo_ms"]["p50"] - totals["ttft_ms"]["p50"] > 20  # 6 ITLs of 5 ms


def test_two_workers_merge_drift_cache_and_warmup_to_the_mock_truth(tmp_path, summary_path):
    from tests.integration.test_distributed import cluster
    from tests.integration.test_scenario_distributed import SCENARIO_LOCUSTFILE, finish

    prefix = {"groups": 2, "tokens": 256}
    path = exact_scenario(tmp_path, input_tokens=64, prefix=prefix, warmup={"requests": 5})
    with spawn_mock(*MOCK, "--prompt-tokens-details") as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 4, "4s", "--scenario", str(path),
            locustfile=SCENARIO_LOCUSTFILE,
        )  # fmt: skip
        _, err = finish(master, workers)
        truth = [r for r in mock.stats()["requests"] if r["tokens"] == 5]
    assert master.returncode == 0, err[-3000:]
    s = load(summary_path)
    totals = s["totals"]
    n = totals["requests"]
    assert s["warmup"]["requests"] == 10  # 5 on each worker
    # a request cut off at the stop is cancelled: the mock may or may not have sent all of it
    assert n + 10 <= len(truth) <= n + totals["cancelled"] + 10
    drift, cache = totals["input_tokens_drift"], totals["prefix_cache"]
    assert drift["checked"] == drift["exact"] == n > 20
    # both workers draw the same 2 prefixes: at most 2 misses in all, likely in the warm-up
    hits = sum(1 for r in truth if r["cached_tokens"] == 256)
    assert hits >= len(truth) - 2 and cache["hits"] >= n - 2
    assert totals["cached_tokens"] == 256 * cache["hits"]


def trace_truth(path, truth: list[dict]) -> tuple[Counter, Counter]:
    """(expected, served) multisets of (prompt tokens, output tokens) per request."""
    from llm_load.core.scenario.schema import load_scenario

    entries = load_scenario(path).trace_entries
    expected = Counter((e.input_tokens, e.output_tokens) for e in entries)
    served = Counter((mock_tokens(r["prompt_chars"]), r["tokens"]) for r in truth)
    return expected, served


@pytest.mark.parametrize("workers", [0, 2])
def test_trace_replays_every_request_once_on_schedule(summary_path, workers):
    from tests.integration.test_distributed import cluster
    from tests.integration.test_scenario_distributed import SCENARIO_LOCUSTFILE, finish

    path = ROOT / "scenarios" / "trace.yaml"
    with spawn_mock(*MOCK, "--prompt-tokens-details") as mock:
        if workers:
            master, started = cluster(
                mock.base_url, summary_path, workers, 16, "10s", "--scenario", str(path),
                locustfile=SCENARIO_LOCUSTFILE,
            )  # fmt: skip
            _, err = finish(master, started)
            assert master.returncode == 0, err[-3000:]
        else:
            proc = run(path, mock.base_url, "--llm-json", str(summary_path))
            assert proc.returncode == 0, proc.stderr[-3000:]
        truth = [r for r in mock.stats()["requests"] if r["tokens"] > 1]  # not the probes
    expected, served = trace_truth(path, truth)
    assert served == expected and sum(served.values()) == 60  # each request once, exact
    s = load(summary_path)
    arrivals = s["arrivals"]
    assert arrivals["arrival"] == "trace" and arrivals["sent"] == 60 and arrivals["dropped"] == 0
    assert arrivals["schedule_lag_ms"]["p50"] < 10  # a busy 2-core machine: p99 varies
    assert s["totals"]["prefix_cache"]["hits"] > 30
