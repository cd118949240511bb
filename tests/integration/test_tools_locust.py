"""The tool-call user under load against the mock: grades equal the mock's injected truth."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import ROOT, TOOL_CASES, TOOLS_LOCUSTFILE, clean_env, load, run_locust
from tests.integration.test_distributed import cluster

pytestmark = pytest.mark.timeout(180)
MOCK = ("--ttft-ms", "15", "--itl-ms", "1", "--tokens", "8", "--tool-cases", str(TOOL_CASES))
# Users finish their task when the time is up: no request is cut off, so truth is exact.
DRAIN = ("--stop-timeout", "10")


def truth_kinds(stats: dict) -> Counter:
    """The mock's answers to first turns by kind (follow-up turns carry no `tool_answer`)."""
    return Counter(r["tool_answer"] for r in stats["requests"] if r.get("tool_answer"))


def graded_kinds(metrics: dict) -> Counter:
    tools = metrics["tool_calls"]
    return Counter({"correct": tools["correct"], **tools["by_error"]})


def test_graded_accuracy_equals_the_injected_wrong_calls(summary_path):
    with spawn_mock(*MOCK, "--tool-error-rate", "0.2") as mock:
        proc = run_locust(
            "-u", "6", "-r", "6", "-t", "6s", "-H", mock.base_url, "--model", "mock-llm",
            "--llm-json", str(summary_path), *DRAIN, locustfile=TOOLS_LOCUSTFILE,
        )  # fmt: skip
        stats = mock.stats()
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = load(summary_path)["by_model"]["mock-llm"]
    truth = truth_kinds(stats)
    assert graded_kinds(m) == truth and m["cancelled"] == 0
    assert m["tool_calls"]["expected"] == sum(truth.values()) >= 100
    assert m["tool_calls"]["accuracy"] == pytest.approx(0.8, abs=0.02)
    kinds = {"unknown_function", "wrong_function", "invalid_json", "missing_arg"}
    assert set(m["tool_calls"]["by_error"]) >= kinds
    assert m["failures"] == 0  # wrong calls are graded, never HTTP failures


def test_the_tool_loop_sends_every_result_back(summary_path):
    with spawn_mock(*MOCK) as mock:
        proc = run_locust(
            "-u", "4", "-r", "4", "-t", "4s", "-H", mock.base_url, "--model", "mock-llm",
            "--llm-json", str(summary_path), "--tool-turns", "3", *DRAIN,
            locustfile=TOOLS_LOCUSTFILE,
        )  # fmt: skip
        stats = mock.stats()
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = load(summary_path)["by_model"]["mock-llm"]
    assert m["tool_calls"]["accuracy"] == 1.0
    follow_ups = [r for r in stats["requests"] if not r.get("tool_answer")]
    assert follow_ups and stats["tool_results_received"] >= len(follow_ups)
    assert stats["tool_result_id_mismatches"] == 0
    # Every task ends: as many whole tasks as graded first turns.
    assert m["task_ms"]["count"] == m["tool_calls"]["expected"]
    assert m["task_ms"]["p50"] > m["e2e_ms"]["p50"]  # a task is longer than one of its turns
    assert m["tool_call_ms"]["p50"] >= m["tool_first_call_ms"]["p50"] >= 15
    assert "tools mock-llm turn 2" in proc.stdout + proc.stderr  # a Locust request per turn


def test_two_workers_merge_grades_exactly(summary_path):
    with spawn_mock(*MOCK, "--tool-error-rate", "0.25") as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 6, "6s", *DRAIN, locustfile=TOOLS_LOCUSTFILE
        )
        _, err = master.communicate(timeout=90)
        for worker in workers:
            worker.wait(timeout=30)
        stats = mock.stats()
    assert master.returncode == 0, err[-3000:]
    m = load(summary_path)["by_model"]["mock-llm"]
    assert graded_kinds(m) == truth_kinds(stats)
    assert m["tool_calls"]["accuracy"] == pytest.approx(0.75, abs=0.03)


def test_the_tool_scenario_passes_its_thresholds(summary_path):
    with spawn_mock(*MOCK) as mock:
        proc = subprocess.run(
            [
                sys.executable, "-m", "llm_load.cli", "run", str(ROOT / "scenarios/tools.yaml"),
                "--headless", "-H", mock.base_url, "-t", "4s", "--llm-json", str(summary_path),
            ],
            capture_output=True, text=True, timeout=120, env=clean_env(),
        )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    s = load(summary_path)
    assert s["passed"] and s["totals"]["tool_accuracy"] == 1.0
    assert [t["check"] for t in s["thresholds"]][1] == "tool_accuracy >= 0.9"
    assert "tool calls mock-llm:" in proc.stdout
