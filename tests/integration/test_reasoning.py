"""Reasoning traffic against the mock's truth: SLOs and thresholds on `ttfo_ms` (the first
answer token after the thinking), and the reasoning of non-streamed answers."""

from __future__ import annotations

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import load, short_run
from tests.integration.test_scenarios import run, scenario

pytestmark = pytest.mark.timeout(120)
REASONING = 6
# Both models answer their first (reasoning) token after 10 ms; the answer starts after 6
# reasoning tokens: quick at 10 + 6 x 2 = 22 ms, deliberate at 10 + 6 x 30 = 190 ms.
MOCK = (
    "--model", "quick=10/2", "--model", "deliberate=10/30", "--tokens", "4",
    "--reasoning-tokens", str(REASONING),
)  # fmt: skip


def true_ttfo(truth: list[dict], model: str) -> list[float]:
    """The mock's own first-answer-token times (ms) of a model's completed requests."""
    done = [r for r in truth if r["model"] == model and r["completed"]]
    return [r["token_offsets_ms"][REASONING] for r in done]


def test_ttfo_slo_and_thresholds_split_by_model_as_the_mock_truth_says(tmp_path, summary_path):
    models = [{"name": "quick", "max_tokens": 10}, {"name": "deliberate", "max_tokens": 10}]
    thresholds = [
        "ttfo_ms.p99@quick < 100", "ttfo_ms.p50@deliberate > 100", "goodput@deliberate == 0",
    ]  # fmt: skip
    path = scenario(tmp_path, models=models, slo={"ttfo_ms": 100}, thresholds=thresholds)
    with spawn_mock(*MOCK) as mock:
        proc = run(path, mock.base_url, "--llm-json", str(summary_path), "--slo", "ttft_ms <= 100")
        truth = mock.stats(detail=True)["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    quick, deliberate = s["by_model"]["quick"], s["by_model"]["deliberate"]
    assert all(t < 100 for t in true_ttfo(truth, "quick"))  # the truth behind the split
    assert all(t > 100 for t in true_ttfo(truth, "deliberate"))
    assert quick["requests"] > 10 and deliberate["requests"] > 3
    assert s["totals"]["goodput"]["slo"] == {"ttft_ms": 100.0, "ttfo_ms": 100.0}
    assert quick["goodput"]["good"] == quick["requests"]  # TTFT 10 ms passes for both
    assert deliberate["goodput"]["good"] == 0  # ... TTFO 190 ms fails every one
    assert quick["ttfo_ms"]["count"] == quick["requests"]
    assert all(t["ok"] for t in s["thresholds"]) and len(s["thresholds"]) == 3


def test_a_broken_ttfo_threshold_fails_the_run(summary_path):
    with spawn_mock(*MOCK) as mock:
        proc = short_run(
            mock.base_url, summary_path, "--model", "deliberate", "--max-tokens", "10",
            "--slo", "ttfo_ms <= 100", "--threshold", "ttfo_ms.p50 < 100",
        )  # fmt: skip
        truth = true_ttfo(mock.stats(detail=True)["requests"], "deliberate")
    assert proc.returncode == 3, proc.stderr[-3000:]  # a threshold failed
    s = load(summary_path)
    (check,) = s["thresholds"]
    assert not check["ok"] and not s["passed"]
    assert truth and abs(check["value"] - sorted(truth)[(len(truth) - 1) // 2]) < 10
    assert s["totals"]["goodput"]["good"] == 0 < s["totals"]["requests"]


def test_non_streamed_answers_carry_their_reasoning(summary_path):
    import json
    import urllib.request

    mock_args = ("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "4", "--reasoning-tokens", "6")
    with spawn_mock(*mock_args) as mock:
        body = {"model": "mock-llm", "messages": [{"role": "user", "content": "hi"}]}
        req = urllib.request.Request(
            f"{mock.base_url}/v1/chat/completions", json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        proc = short_run(mock.base_url, summary_path, "--model", "mock-llm", "--no-stream")
        truth = [r for r in mock.stats()["requests"] if r["completed"]]
    message, usage = answer["choices"][0]["message"], answer["usage"]
    assert message["reasoning_content"] == "think " * 6 and message["content"]
    assert usage["completion_tokens"] == 10  # 6 reasoning + 4 answer, as servers count
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 6}
    assert proc.returncode == 0, proc.stderr[-3000:]
    totals = load(summary_path)["totals"]
    n = totals["requests"]
    assert {(r["stream"], r["tokens"], r["reasoning_tokens"]) for r in truth} == {(False, 10, 6)}
    assert n + 1 <= len(truth) <= n + 1 + totals["cancelled"]  # + the request above
    assert totals["reasoning"] == {"requests": n, "tokens": 6 * n, "estimated_requests": 0}
    assert totals["output_tokens"] == 10 * n and "ttfo_ms" not in totals
