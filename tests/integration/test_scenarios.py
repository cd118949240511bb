"""YAML scenarios end to end: `llm-load run` / `validate` and the scenario locustfile
against the mock, checked against its ground truth (models, TTFT, message counts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llm_load.mock.process import spawn_mock
from tests.conftest import ROOT, clean_env, load, nearest_rank
from tests.integration.test_distributed import free_port

pytestmark = pytest.mark.timeout(120)
SCENARIO_LOCUSTFILE = ROOT / "locustfiles" / "scenario.py"


def cli(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "llm_load.cli", *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=clean_env(), cwd=cwd
    )


def scenario(tmp_path: Path, **fields: object) -> Path:
    data = {
        "name": "test",
        "models": [{"name": "mock-llm", "max_tokens": 8}],
        "prompts": {"inline": ["Say hello."]},
        "load": {"users": 4, "spawn_rate": 4, "run_time": "3s"},
        **fields,
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(path: Path, host: str, *args: str) -> subprocess.CompletedProcess:
    return cli("run", str(path), "--headless", "-H", host, *args, "--", "--loglevel", "WARNING")


def test_model_mix_counts_and_per_model_ttft_match_truth(tmp_path, summary_path):
    models = [
        {"name": "mock-llm", "weight": 3, "max_tokens": 8},
        {"name": "mock-llm-slow", "weight": 1, "max_tokens": 8},
    ]
    load_ = {"users": 16, "spawn_rate": 16, "run_time": "6s"}
    path = scenario(tmp_path, models=models, load=load_, seed=3)
    with spawn_mock("--ttft-ms", "30", "--itl-ms", "2", "--tokens", "8") as mock:
        proc = run(path, mock.base_url, "--llm-json", str(summary_path))
        truth = [r for r in mock.stats()["requests"] if r["completed"]]
    assert proc.returncode == 0, proc.stderr[-3000:]
    by_model = load(summary_path)["by_model"]
    fast, slow = by_model["mock-llm"]["requests"], by_model["mock-llm-slow"]["requests"]
    assert fast + slow > 200 and abs(fast / (fast + slow) - 0.75) < 0.07, (fast, slow)
    for name, ttft in (("mock-llm", 30), ("mock-llm-slow", 60)):
        true_p50 = nearest_rank([r["ttft_ms"] for r in truth if r["model"] == name], 50)
        assert abs(by_model[name]["ttft_ms"]["p50"] - true_p50) < 3
        assert ttft <= true_p50 < ttft + 10


def test_multi_turn_sends_growing_histories(tmp_path):
    path = scenario(
        tmp_path,
        multi_turn={"turns": 3},
        prompts={"inline": ["First question?", "Second question?"]},
    )
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8") as mock:
        proc = run(path, mock.base_url)
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = [r["messages"] for r in truth]
    assert set(counts) == {1, 3, 5} and counts.count(1) >= 4
    # every conversation goes 1, 3, 5 in order: a 5 is always preceded by as many 3s and 1s
    assert counts.count(1) >= counts.count(3) >= counts.count(5) > 0


def test_synthetic_scenario_lengths_reach_the_server(tmp_path):
    prompts = {"synthetic": {"input_tokens": {"fixed": 100}, "output_tokens": {"fixed": 5}}}
    path = scenario(tmp_path, prompts=prompts, tokenizer="estimate")  # ~4 chars a token
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "50") as mock:
        proc = run(path, mock.base_url)
        truth = [r for r in mock.stats()["requests"] if r["completed"]]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert truth and {r["prompt_chars"] for r in truth} == {400}
    assert {r["tokens"] for r in truth} == {5}


def test_failing_scenario_threshold_exits_3(tmp_path, summary_path):
    path = scenario(tmp_path, thresholds=["ttft_ms.p50 < 1", "error_rate == 0"])
    with spawn_mock("--ttft-ms", "20", "--itl-ms", "1") as mock:
        proc = run(path, mock.base_url, "-t", "2s", "--llm-json", str(summary_path))
    assert proc.returncode == 3, proc.stderr[-3000:]
    checks = load(summary_path)["thresholds"]
    assert [c["ok"] for c in checks] == [False, True]
    assert "FAIL" in proc.stdout


def test_validate_exit_codes_and_messages(tmp_path):
    shipped = sorted((ROOT / "scenarios").glob("*.yaml"))
    ok = cli("validate", *(str(p) for p in shipped))
    assert ok.returncode == 0 and ok.stdout.count("OK: ") == len(shipped) >= 6, ok.stderr
    assert "OK: " in ok.stdout and "2 models, file prompts" in ok.stdout
    bad = scenario(tmp_path, models=[{"name": "a", "weigth": 1}])
    proc = cli("validate", str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{bad}: models[0].weigth: unknown key" in proc.stderr
    missing = cli("validate", str(tmp_path / "none.yaml"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert "Traceback" not in missing.stderr
    run_bad = cli("run", str(bad), "--headless")
    assert run_bad.returncode == 2 and "weigth" in run_bad.stderr


def test_smoke_scenario_passes_against_the_mock(summary_path):
    with spawn_mock("--ttft-ms", "20", "--itl-ms", "2") as mock:
        proc = cli(
            "run", "scenarios/smoke.yaml", "--headless", "-H", mock.base_url,
            "--llm-json", str(summary_path),
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    assert s["passed"] and len(s["thresholds"]) == 5 and s["settings"]["scenario"] == "smoke"
    goodput = s["totals"]["goodput"]
    assert goodput["slo"] == {"ttft_ms": 500, "tpot_ms": 50} and goodput["ratio"] == 1.0
    assert 9 < s["duration_s"] < 13


def test_stages_shape_ends_the_test(tmp_path, summary_path):
    stages = [{"duration_s": 2, "users": 2, "spawn_rate": 10}, {"duration_s": 2, "users": 6}]
    path = scenario(tmp_path, load={"stages": stages, "spawn_rate": 5})
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8") as mock:
        proc = run(path, mock.base_url, "--llm-json", str(summary_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    assert s["totals"]["requests"] > 0 and 3 < s["duration_s"] < 7


def test_missing_scenario_on_a_worker_is_logged_and_sends_nothing(tmp_path):
    master_dir, worker_dir = tmp_path / "master", tmp_path / "worker"
    master_dir.mkdir()
    worker_dir.mkdir()
    scenario(master_dir)
    port = str(free_port())
    common = [sys.executable, "-m", "locust", "-f", str(SCENARIO_LOCUSTFILE)]
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1") as mock:
        master = subprocess.Popen(
            [*common, "--master", "--headless", "--expect-workers", "1", "-u", "2", "-r", "2",
             "-t", "3s", "-H", mock.base_url, "--scenario", "scenario.yaml",
             "--master-bind-host", "127.0.0.1", "--master-bind-port", port],
            cwd=master_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=clean_env(),
        )  # fmt: skip
        worker = subprocess.Popen(
            [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", port],
            cwd=worker_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=clean_env(),
        )  # fmt: skip
        try:
            master.communicate(timeout=60)
            _, worker_err = worker.communicate(timeout=30)
        finally:
            for proc in (master, worker):
                if proc.poll() is None:
                    proc.kill()
        truth = mock.stats()["requests"]
    assert truth == []
    assert "--scenario cannot be used, no requests will be sent" in worker_err
    assert "scenario.yaml: cannot read" in worker_err
    assert worker_err.count("cannot read") == 1 and "Traceback" not in worker_err


def test_locust_options_after_the_scenario_go_to_locust(tmp_path, summary_path):
    """`llm-load run X.yaml --csv PREFIX --stop-timeout 5` needs no `--`: Locust gets them."""
    path = scenario(tmp_path, load={"users": 2, "spawn_rate": 2, "run_time": "2s"})
    prefix = tmp_path / "locust"
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "4") as mock:
        proc = cli(
            "run", str(path), "--headless", "-H", mock.base_url, "--csv", str(prefix),
            "--stop-timeout", "5", "--llm-json", str(summary_path),
        )  # fmt: skip
        truth = mock.stats()["total"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = (tmp_path / "locust_stats.csv").read_text().splitlines()
    assert rows[0].startswith("Type,Name") and any("chat mock-llm" in row for row in rows)
    s = load(summary_path)  # --stop-timeout: users finish their request, none is cut off
    assert s["totals"]["cancelled"] == 0 and s["totals"]["requests"] == truth > 0


def test_run_without_scenario_passes_our_and_locust_options(tmp_path, summary_path):
    """`llm-load run -H URL` (no scenario): the chat user with --model, --max-tokens and a
    Locust option (--csv) from the command line."""
    prefix = tmp_path / "locust"
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "16") as mock:
        proc = cli(
            "run", "-H", mock.base_url, "--headless", "-u", "2", "-r", "2", "-t", "2s",
            "--model", "mock-llm-slow", "--max-tokens", "4", "--csv", str(prefix),
            "--llm-json", str(summary_path), cwd=tmp_path,
        )  # fmt: skip
        truth = mock.stats()
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    assert list(s["by_model"]) == ["mock-llm-slow"] and s["settings"]["max_tokens"] == 4
    assert s["totals"]["requests"] + s["totals"]["cancelled"] == truth["count"] > 0
    assert {r["model"] for r in truth["requests"]} == {"mock-llm-slow"}
    assert {r["tokens"] for r in truth["requests"] if r["completed"]} == {4}
    assert "chat mock-llm-slow" in (tmp_path / "locust_stats.csv").read_text()


def test_bundled_scenario_by_name_from_any_directory(tmp_path, summary_path):
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8") as mock:
        proc = cli(
            "run", "multi-turn", "--headless", "-t", "2s", "-H", mock.base_url,
            "--llm-json", str(summary_path), cwd=tmp_path,
        )  # fmt: skip
        truth = mock.stats()
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    assert s["settings"]["scenario"] == "multi-turn"
    assert s["totals"]["requests"] + s["totals"]["cancelled"] == truth["count"] > 0
    assert {r["messages"] for r in truth["requests"]} <= {1, 3, 5}
