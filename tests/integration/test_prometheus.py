"""`/metrics` of real runs against the mock: live while running, and after the run the
counters equal summary.json exactly (headless local runner, master + 2 workers, web UI)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import CHAT_LOCUSTFILE, clean_env, load
from tests.integration.scrape import assert_counters_equal, scrape_until_exit
from tests.integration.test_distributed import cluster, free_port

pytestmark = pytest.mark.timeout(150)
MOCK = ("--ttft-ms", "40", "--itl-ms", "4", "--tokens", "16", "--error-rate", "0.1")
SLO = ("--slo", "ttft_ms <= 45")


def locust(*args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "locust", "-f", str(CHAT_LOCUSTFILE), *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
    )


def check(scrapes: list, summary: dict, mock_requests: int) -> None:
    """Live during the run (users and requests seen), then exactly the summary."""
    assert any(s.get(("llm_load_users", ()), 0) > 0 for s in scrapes), "never seen running"
    assert any(s[("llm_load_in_flight_requests", ())] > 0 for s in scrapes), "none in flight"
    assert_counters_equal(scrapes[-1], summary)
    t = summary["totals"]
    assert t["requests"] + t["cancelled"] == mock_requests
    assert t["failures"] > 0 and scrapes[-1][("llm_load_in_flight_requests", ())] == 0


def test_headless_run_serves_the_summary_numbers(summary_path):
    port = free_port()
    with spawn_mock(*MOCK) as mock:
        proc = locust(
            "--headless", "-u", "4", "-r", "4", "-t", "4s", "-H", mock.base_url,
            "--model", "mock-llm", "--llm-json", str(summary_path), *SLO,
            "--prometheus-port", str(port), "--prometheus-linger", "2",
        )  # fmt: skip
        scrapes = scrape_until_exit(proc, f"http://127.0.0.1:{port}/metrics")
        _, err = proc.communicate(timeout=30)
        truth = mock.stats()["total"]
    assert proc.returncode in (0, 1), err[-3000:]  # 1: Locust's own "there were failures"
    check(scrapes, load(summary_path), truth)


def test_master_and_two_workers_serve_the_merged_numbers(summary_path):
    port = free_port()
    with spawn_mock(*MOCK) as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 6, "5s", *SLO,
            "--prometheus-port", str(port), "--prometheus-linger", "2",
        )  # fmt: skip
        scrapes = scrape_until_exit(master, f"http://127.0.0.1:{port}/metrics")
        _, err = master.communicate(timeout=30)
        for worker in workers:
            worker.communicate(timeout=30)
        truth = mock.stats()["total"]
    assert master.returncode in (0, 1), err[-3000:]
    check(scrapes, load(summary_path), truth)
    assert not any("worker" in str(key) for key in scrapes[-1]), "no per-worker series"


def test_web_ui_serves_metrics(summary_path):
    port = free_port()
    with spawn_mock(*MOCK) as mock:
        proc = locust(
            "--web-host", "127.0.0.1", "--web-port", str(port), "--autostart", "--autoquit",
            "3", "-u", "3", "-r", "3", "-t", "3s", "-H", mock.base_url, "--model", "mock-llm",
            "--llm-json", str(summary_path),
        )  # fmt: skip
        scrapes = scrape_until_exit(proc, f"http://127.0.0.1:{port}/metrics")
        _, err = proc.communicate(timeout=30)
        truth = mock.stats()["total"]
    assert proc.returncode in (0, 1), err[-3000:]
    check(scrapes, load(summary_path), truth)


def test_a_busy_prometheus_port_is_a_clear_error(summary_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = locust(
            "--headless", "-u", "1", "-t", "2s", "-H", "http://127.0.0.1:9",
            "--model", "m", "--prometheus-port", str(port),
        )  # fmt: skip
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err[-2000:]
    assert f"llm-load: error: --prometheus-port {port}:" in err
