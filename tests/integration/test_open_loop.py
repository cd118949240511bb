"""Open-loop scenarios: arrivals at a rate, split across workers, lag and drops visible."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
import yaml

from llm_load.mock.process import spawn_mock
from tests.conftest import ROOT, clean_env, load
from tests.integration.test_distributed import cluster

pytestmark = pytest.mark.timeout(120)
MOCK = ("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "16")


def scenario(tmp_path, **load_keys) -> str:
    doc = {
        "name": "open",
        "models": [{"name": "mock-llm", "max_tokens": 16}],
        "prompts": {"inline": ["Say hi."]},
        "load": load_keys,
    }
    path = tmp_path / "open.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def run(path: str, summary) -> tuple[dict, list[dict], subprocess.CompletedProcess]:
    """`llm-load run` against a fresh mock: (summary, the mock's truth, the process)."""
    with spawn_mock(*MOCK) as mock:
        cmd = [sys.executable, "-m", "llm_load.cli", "run", path, "--headless"]
        cmd += ["-H", mock.base_url, "--llm-json", str(summary)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=clean_env())
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    return load(summary), truth, proc


def test_requests_follow_the_rate_not_the_users(tmp_path, summary_path):
    path = scenario(tmp_path, users=16, spawn_rate=16, rate=40, run_time="4s")
    s, truth, _ = run(path, summary_path)
    a = s["arrivals"]
    assert a["sent"] == len(truth) == pytest.approx(40 * s["duration_s"], rel=0.25)
    assert a["dropped"] == 0 and a["schedule_lag_ms"]["p50"] < 5
    assert (a["arrival"], a["rate_per_s"]) == ("poisson", 40)
    assert s["totals"]["ttft_ms"]["p50"] == pytest.approx(20, abs=5)


def test_a_constant_rate_is_held_within_five_percent(tmp_path, summary_path):
    path = scenario(tmp_path, users=16, spawn_rate=16, rate=40, run_time="4s", arrival="constant")
    s, truth, _ = run(path, summary_path)
    a = s["arrivals"]
    assert a["sent"] == len(truth) and a["dropped"] == 0
    assert a["sent"] / s["duration_s"] == pytest.approx(40, rel=0.05), a
    assert a["schedule_lag_ms"]["p99"] < 50


def test_an_overloaded_generator_shows_lag_and_drops(tmp_path, summary_path):
    path = scenario(
        tmp_path, users=2, spawn_rate=2, rate=100, run_time="4s", arrival="constant", max_lag_s=1
    )
    s, _, proc = run(path, summary_path)
    a = s["arrivals"]
    assert a["dropped"] > 100 and a["late"] > 50 and a["sent"] + a["dropped"] == a["scheduled"]
    assert a["scheduled"] == pytest.approx(100 * s["duration_s"], rel=0.1)
    # latencies count from the intended send time: the wait for a free user is in them
    assert s["totals"]["ttft_ms"]["p50"] > 500
    assert "raise load.users" in proc.stderr


def test_two_workers_split_the_rate(tmp_path, summary_path):
    path = scenario(tmp_path, users=8, spawn_rate=8, rate=40, arrival="constant")
    rows = tmp_path / "rows.jsonl"
    with spawn_mock(*MOCK) as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 8, "5s", "--scenario", path,
            "--llm-requests", str(rows), locustfile=ROOT / "locustfiles" / "scenario.py",
        )  # fmt: skip
        _, err = master.communicate(timeout=60)
        for worker in workers:
            worker.wait(timeout=30)
    assert master.returncode == 0, err[-3000:]
    s = load(summary_path)
    a = s["arrivals"]
    assert a["sent"] == pytest.approx(40 * s["duration_s"], rel=0.2), a
    per_worker = Counter(json.loads(line)["worker"] for line in rows.read_text().splitlines())
    low, high = sorted(per_worker.values())
    assert len(per_worker) == 2 and low >= 0.8 * high, per_worker
