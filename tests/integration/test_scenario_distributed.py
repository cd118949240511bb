"""A scenario run by a master and two workers: the merged summary equals the mock's truth.

Only the master gets `--scenario` (an absolute path, so every process opens the same file);
the workers receive it with the master's options and each load the scenario and its CSV
prompts. Checked: counts per model against the mock, the 3 : 1 model mix, TTFT per model,
the CSV's prompts and no others, and requests from both workers.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from llm_load.core.scenario.schema import load_scenario
from llm_load.mock.process import spawn_mock
from tests.conftest import ROOT, load, nearest_rank
from tests.integration.test_distributed import cluster

pytestmark = pytest.mark.timeout(120)
SCENARIO_LOCUSTFILE = ROOT / "locustfiles" / "scenario.py"
CSV = """id,system,prompt
1,,Name three rivers.
2,You are terse.,"Why is the sky blue? Answer in one line, please."
3,,"Write a haiku about
load testing."
4,Reply in JSON.,"List two prime numbers, as {""primes"": [...]}."
5,,What is a token?
"""


def write_scenario(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prompts.csv").write_text(CSV, encoding="utf-8")
    data = {
        "name": "distributed-mix",
        "seed": 11,
        "models": [
            {"name": "mock-llm", "weight": 3, "max_tokens": 8},
            {"name": "mock-llm-slow", "weight": 1, "max_tokens": 8},
        ],
        "prompts": {"file": "data/prompts.csv"},
        "load": {"users": 8, "spawn_rate": 8, "run_time": "6s"},
        "thresholds": ["error_rate == 0", "requests > 100"],
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def finish(
    master: subprocess.Popen, workers: list[subprocess.Popen], timeout: float = 60
) -> tuple[str, str]:
    """The master's output once it exits (within `timeout` s); workers waited for (and
    killed if they hang)."""
    try:
        out, err = master.communicate(timeout=timeout)
        for worker in workers:
            worker.communicate(timeout=30)
    finally:
        for proc in (master, *workers):
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    return out, err


def test_two_workers_run_a_csv_scenario_to_the_mock_truth(tmp_path, summary_path):
    path = write_scenario(tmp_path)
    rows_path = tmp_path / "requests.jsonl"
    extra = ("--scenario", str(path), "--llm-requests", str(rows_path))
    with spawn_mock("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "8") as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 8, "6s", *extra, locustfile=SCENARIO_LOCUSTFILE
        )
        out, err = finish(master, workers)
        truth = mock.stats()["requests"]
    assert master.returncode == 0, err[-3000:]
    s = load(summary_path)
    assert s["settings"]["scenario"] == "distributed-mix" and s["passed"]
    totals, by_model = s["totals"], s["by_model"]
    assert totals["requests"] + totals["cancelled"] == len(truth) and totals["failures"] == 0
    per_model = Counter(r["model"] for r in truth)
    assert set(by_model) == set(per_model) == {"mock-llm", "mock-llm-slow"}
    for model, row in by_model.items():
        assert row["requests"] + row["cancelled"] == per_model[model], model
        done = [r["ttft_ms"] for r in truth if r["model"] == model and r["completed"]]
        assert abs(row["ttft_ms"]["p50"] - nearest_rank(done, 50)) < 3, model
    assert abs(per_model["mock-llm"] / len(truth) - 0.75) < 0.07, per_model
    expected = {
        (len(c), sum(len(m["content"]) for m in c)) for c in load_scenario(path).conversations
    }
    assert len(expected) == 5
    assert {(r["messages"], r["prompt_chars"]) for r in truth} == expected
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert len(rows) == len(truth) and len({r["worker"] for r in rows}) == 2
    assert out.count("LLM summary") == 1
