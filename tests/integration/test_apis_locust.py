"""Headless runs of each API against the mock: TTFT, ITL and tokens equal the mock's truth,
tool grading on Responses and Messages equals the injected truth, errors in each API's shape
become failures with the server's message, and the mixed-API scenario runs."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from llm_load.mock.payload import STREAM_ERROR_MESSAGE
from llm_load.mock.process import spawn_mock
from tests.conftest import (
    ROOT,
    TOOL_CASES,
    TOOLS_LOCUSTFILE,
    clean_env,
    load,
    nearest_rank,
    run_locust,
    short_run,
)
from tests.integration.test_distributed import cluster
from tests.integration.test_scenario_distributed import SCENARIO_LOCUSTFILE, finish
from tests.integration.test_scenarios import cli

pytestmark = pytest.mark.timeout(180)
DRAIN = ("--stop-timeout", "10")  # users finish their request when the time is up
KEY = "sk-ant-test-SECRET-0123456789"


@pytest.mark.parametrize("api", ["responses", "messages", "completions"])
def test_streamed_api_matches_the_truth(summary_path, api):
    with spawn_mock("--ttft-ms", "40", "--itl-ms", "4", "--tokens", "24") as mock:
        proc = short_run(mock.base_url, summary_path, "--model", "mock-llm", "--api", api,
                         *DRAIN, users=8, run_time="4s")  # fmt: skip
        truth = mock.stats(detail=True)["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    m = s["by_model"]["mock-llm"]
    done = [r for r in truth if r["completed"]]
    assert {r["api"] for r in truth} == {api} and m["api"] == api and s["settings"]["api"] == api
    assert m["requests"] == len(truth) == len(done) and m["failures"] == m["cancelled"] == 0
    assert m["usage_reported"] == m["requests"] and m["output_tokens"] == 24 * m["requests"]
    assert m["ttft_ms"]["count"] == m["requests"]
    true_p50 = nearest_rank([r["ttft_ms"] for r in done], 50)
    assert abs(m["ttft_ms"]["p50"] - true_p50) < 3, (m["ttft_ms"], true_p50)
    gaps = [b - a for r in done for a, b in pairwise(r["token_offsets_ms"])]
    assert abs(m["itl_ms"]["mean"] - sum(gaps) / len(gaps)) < 1
    assert m["itl_ms"]["count"] == len(gaps)  # one token event per truth token


def test_embeddings_batches_match_the_truth(summary_path):
    with spawn_mock("--ttft-ms", "20") as mock:
        proc = short_run(mock.base_url, summary_path, "--model", "mock-llm", "--api",
                         "embeddings", "--batch", "4", *DRAIN, users=4, run_time="3s")  # fmt: skip
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    m = s["by_model"]["mock-llm"]
    assert m["api"] == "embeddings" and m["requests"] == len(truth) > 10 and m["failures"] == 0
    assert {(r["api"], r["inputs"], r["stream"], r["tokens"]) for r in truth} == {
        ("embeddings", 4, False, 0)}  # fmt: skip
    assert m["output_tokens"] == 0 and m["ttft_ms"]["count"] == 0 and m["usage_reported"] > 0
    assert m["inputs_per_s"] == pytest.approx(4 * m["requests_per_s"])
    assert m["e2e_ms"]["p50"] >= 19 and m["input_tokens_per_s"] > 0


@pytest.mark.parametrize("api", ["responses", "messages"])
def test_tool_grades_equal_the_injected_truth(summary_path, api):
    mock_args = ("--ttft-ms", "15", "--itl-ms", "1", "--tokens", "8", "--tool-cases",
                 str(TOOL_CASES), "--tool-error-rate", "0.25")  # fmt: skip
    with spawn_mock(*mock_args) as mock:
        proc = run_locust(
            "-u", "6", "-r", "6", "-t", "5s", "-H", mock.base_url, "--model", "mock-llm",
            "--api", api, "--llm-json", str(summary_path), *DRAIN, locustfile=TOOLS_LOCUSTFILE,
        )  # fmt: skip
        stats = mock.stats()
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = load(summary_path)["by_model"]["mock-llm"]
    truth = Counter(r["tool_answer"] for r in stats["requests"] if r.get("tool_answer"))
    graded = Counter({"correct": m["tool_calls"]["correct"], **m["tool_calls"]["by_error"]})
    assert graded == truth and sum(truth.values()) >= 30 and m["failures"] == 0
    assert {r["api"] for r in stats["requests"]} == {api}
    follow_ups = [r for r in stats["requests"] if not r.get("tool_answer")]
    assert follow_ups and stats["tool_results_received"] >= len(follow_ups)
    assert stats["tool_result_id_mismatches"] == 0  # results answer the calls' own ids


def test_messages_key_from_anthropic_env_and_errors_in_its_shape(summary_path, tmp_path):
    env = clean_env(ANTHROPIC_API_KEY=KEY)
    with spawn_mock("--api-key", KEY, "--ttft-ms", "5", "--itl-ms", "1") as mock:
        ok = short_run(mock.base_url, summary_path, "--model", "mock-llm", "--api",
                       "messages", env=env)  # fmt: skip
        chat = short_run(mock.base_url, tmp_path / "chat.json", "--model", "mock-llm", env=env)
    assert ok.returncode == 0, ok.stderr[-3000:]
    s = load(summary_path)
    assert s["settings"]["api_key_source"] == "ANTHROPIC_API_KEY" and s["totals"]["failures"] == 0
    chat_errors = load(tmp_path / "chat.json")["errors"]  # never sent to a chat endpoint
    assert chat.returncode == 1
    assert chat_errors[0]["kind"] == "http_401" and "Missing API key" in chat_errors[0]["example"]
    for text in (ok.stdout, ok.stderr, summary_path.read_text()):
        assert "SECRET-0123" not in text
    with spawn_mock("--ttft-ms", "5", "--error-rate", "1", "--error-status", "529") as mock:
        busy = short_run(mock.base_url, summary_path, "--model", "mock-llm", "--api", "messages")
    errors = load(summary_path)["errors"]
    assert busy.returncode == 1 and errors[0]["kind"] == "http_529"
    assert errors[0]["example"].endswith("(injected by llm-load mock)")


def test_the_mixed_api_scenario_runs_against_the_mock(summary_path):
    models = ("chat-llm", "responses-llm", "messages-llm", "completions-llm")
    specs = [a for name in models for a in ("--model", f"{name}=30/3")]
    with spawn_mock(*specs, "--model", "embed-llm=15/1", "--tokens", "16") as mock:
        proc = cli("run", "scenarios/mixed-apis.yaml", "--headless", "-H", mock.base_url,
                   "-t", "4s", "--llm-json", str(summary_path), cwd=ROOT)  # fmt: skip
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    apis = {name: m["api"] for name, m in s["by_model"].items()}
    assert apis == {"chat-llm": "chat", "responses-llm": "responses",
                    "messages-llm": "messages", "completions-llm": "completions",
                    "embed-llm": "embeddings"}  # fmt: skip
    assert {(r["model"], r["api"]) for r in truth} == set(apis.items())
    assert s["passed"] and s["totals"]["failures"] == 0
    for name in models:
        m = s["by_model"][name]
        assert m["requests"] > 0 and m["ttft_ms"]["p50"] >= 29 and m["usage_reported"] > 0


def test_the_mixed_api_scenario_merges_from_two_workers(summary_path):
    scenario = str(ROOT / "scenarios" / "mixed-apis.yaml")
    models = ("chat-llm", "responses-llm", "messages-llm", "completions-llm")
    specs = [a for name in models for a in ("--model", f"{name}=20/2")]
    with spawn_mock(*specs, "--model", "embed-llm=10/1", "--tokens", "12") as mock:
        master, workers = cluster(mock.base_url, summary_path, 2, 10, "5s", "--scenario",
                                  scenario, *DRAIN, locustfile=SCENARIO_LOCUSTFILE)  # fmt: skip
        _, err = finish(master, workers)
        truth = mock.stats()["requests"]
    assert master.returncode == 0, err[-3000:]
    by_model = load(summary_path)["by_model"]
    per_model = Counter((r["model"], r["api"]) for r in truth)
    assert {(name, m["api"]) for name, m in by_model.items()} == set(per_model)
    for (name, api), count in per_model.items():
        m = by_model[name]
        assert m["requests"] == count and m["failures"] == m["cancelled"] == 0, name
        tokens = 0 if api == "embeddings" else 12 * count
        assert m["output_tokens"] == tokens and m["usage_reported"] == count, name


@pytest.mark.parametrize(
    ("api", "message"),
    [("chat", STREAM_ERROR_MESSAGE), ("responses", STREAM_ERROR_MESSAGE),
     ("messages", "Overloaded (injected by llm-load mock)"),
     ("completions", STREAM_ERROR_MESSAGE)],
)  # fmt: skip
def test_in_stream_error_events_fail_with_the_server_message(summary_path, api, message):
    args = ("--ttft-ms", "5", "--itl-ms", "2", "--tokens", "20", "--stream-error-rate", "0.5")
    with spawn_mock(*args) as mock:
        proc = short_run(mock.base_url, summary_path, "--model", "mock-llm", "--api", api,
                         *DRAIN, users=4, run_time="3s")  # fmt: skip
        stats = mock.stats()
    s = load(summary_path)
    m = s["by_model"]["mock-llm"]
    assert proc.returncode == 1 and m["cancelled"] == 0
    broken = stats["faults"]["stream_error"]
    assert m["failures"] == broken == sum(r["fault"] == "stream_error" for r in stats["requests"])
    assert 0.3 < broken / m["requests"] < 0.7
    assert s["errors"] == [{"kind": "stream_error", "count": broken, "example": message}]
