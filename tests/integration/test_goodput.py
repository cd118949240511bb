"""Goodput end to end: a mock serving a fast and a slow model, an SLO between the two, and
headless Locust runs (local and master + workers) whose goodput must split exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from llm_load.mock.process import spawn_mock
from tests.conftest import ROOT, load, run_locust
from tests.integration.test_distributed import cluster

pytestmark = pytest.mark.timeout(120)
SCENARIO_LOCUSTFILE = ROOT / "locustfiles" / "scenario.py"
# TTFT 30 ms vs 300 ms: an SLO of TTFT <= 150 ms passes every fast call and no slow one.
MOCK = ("--model", "fast=30/2", "--model", "slow=300/2", "--tokens", "4")
SLO = ("--slo", "ttft_ms <= 150")


def write_scenario(tmp_path: Path, **fields: object) -> Path:
    data = {
        "name": "goodput",
        "models": [{"name": "fast", "max_tokens": 4}, {"name": "slow", "max_tokens": 4}],
        "prompts": {"inline": ["Say hello."]},
        **fields,
    }
    path = tmp_path / "goodput.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def scenario_run(path: Path, host: str, summary: Path, *extra: str, users: int = 6):
    n = str(users)
    return run_locust(
        "--scenario", str(path), "-u", n, "-r", n, "-t", "4s", "-H", host,
        "--llm-json", str(summary), "--loglevel", "WARNING", *extra,
        locustfile=SCENARIO_LOCUSTFILE,
    )  # fmt: skip


def assert_split(summary: dict, truth: list[dict]) -> None:
    """Every fast call good, no slow call good; counts equal the mock's own log."""
    fast, slow, totals = summary["by_model"]["fast"], summary["by_model"]["slow"], summary["totals"]
    assert fast["failures"] == slow["failures"] == 0
    assert fast["requests"] > 20 and slow["requests"] > 5, (fast["requests"], slow["requests"])
    assert fast["goodput"]["ratio"] == 1.0 and fast["goodput"]["good"] == fast["requests"]
    assert slow["goodput"]["ratio"] == 0.0 and slow["goodput"]["good"] == 0
    assert totals["goodput"]["good"] == fast["requests"]
    assert totals["goodput"]["slo"] == {"ttft_ms": 150.0}
    rate = totals["goodput"]["requests_per_s"]
    assert rate == pytest.approx(fast["requests"] / summary["duration_s"], rel=0.01)
    assert totals["requests"] + totals["cancelled"] == len(truth)
    served = {m: [r for r in truth if r["model"] == m and r["completed"]] for m in ("fast", "slow")}
    assert all(r["ttft_ms"] < 150 for r in served["fast"])  # the mock's truth agrees
    assert all(r["ttft_ms"] > 150 for r in served["slow"])
    assert fast["requests"] <= len(served["fast"]) <= fast["requests"] + fast["cancelled"]
    assert sum(p["good"] for p in summary["timeseries"]["points"]) == fast["requests"]


def test_goodput_splits_by_model_and_matches_the_mock_truth(tmp_path, summary_path):
    path = write_scenario(tmp_path)
    rows_path = tmp_path / "requests.jsonl"
    with spawn_mock(*MOCK) as mock:
        proc = scenario_run(path, mock.base_url, summary_path, *SLO,
                            "--llm-requests", str(rows_path))  # fmt: skip
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = load(summary_path)
    assert_split(summary, truth)
    assert summary["settings"]["slo"] == {"ttft_ms": 150.0}
    ratio = summary["totals"]["goodput"]["ratio"]
    assert f"goodput: {ratio:.1%} of requests met TTFT <= 150 ms" in proc.stdout
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    done = [r for r in rows if r["status"] == "ok"]
    assert done and all(r["good"] == (r["model"] == "fast") for r in done)


def test_scenario_slo_with_a_goodput_threshold_exits_3(tmp_path, summary_path):
    path = write_scenario(
        tmp_path,
        slo={"ttft_ms": 150},
        thresholds=["goodput.ratio >= 0.95", "goodput.ratio@fast >= 0.95"],
    )
    with spawn_mock(*MOCK) as mock:
        proc = scenario_run(path, mock.base_url, summary_path, users=4)
    assert proc.returncode == 3, proc.stderr[-3000:]
    summary = load(summary_path)
    checks = summary["thresholds"]
    assert [c["ok"] for c in checks] == [False, True] and not summary["passed"]
    assert checks[0]["value"] == summary["totals"]["goodput"]["ratio"] < 0.95
    assert checks[1]["value"] == 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--threshold", "goodput.ratio >= 0.9"), "goodput needs an SLO"),
        (("--slo", "ttft <= 150"), "did you mean 'ttft_ms'"),
        (("--slo", "ttft_ms < 150"), "an SLO is an upper limit"),
    ],
)
def test_bad_slo_setups_exit_2_before_any_traffic(args, message):
    with spawn_mock(*MOCK) as mock:
        proc = run_locust("-u", "1", "-r", "1", "-t", "2s", "-H", mock.base_url, *args)
        sent = mock.stats()["total"]
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and sent == 0


def test_workers_apply_the_masters_slo(tmp_path, summary_path):
    path = write_scenario(tmp_path)
    with spawn_mock(*MOCK) as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 8, "5s", "--scenario", str(path), *SLO,
            locustfile=SCENARIO_LOCUSTFILE,
        )  # fmt: skip
        _, err = master.communicate(timeout=60)
        for worker in workers:
            worker.wait(timeout=30)
        truth = mock.stats()["requests"]
    assert master.returncode == 0, err[-3000:]
    assert_split(load(summary_path), truth)
