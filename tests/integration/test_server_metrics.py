"""`--server-metrics` against the mock's `/metrics` (vLLM names, values it knows to be true).

Real headless Locust runs: the normalised series and the run's deltas are checked against
the mock's ground truth (`GET /stats`), a scrape failure never fails the run, and a
distributed run scrapes once (the mock counts the scrapes it served).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from llm_load.core.server import parse_snapshot
from llm_load.mock.process import spawn_mock
from tests.conftest import load, short_run
from tests.integration.test_distributed import cluster, free_port

pytestmark = pytest.mark.timeout(120)


def mock_scrapes(base_url: str) -> int:
    """Scrapes the mock served so far, this one excluded."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=10) as resp:
        snap = parse_snapshot(resp.read().decode(), 0.0)
    return int(snap.values["llm_load_mock_metrics_scrapes_total"]) - 1


def test_series_and_deltas_match_the_mock_truth(summary_path):
    mock_args = ("--parallel", "2", "--ttft-ms", "60", "--itl-ms", "5", "--tokens", "20")
    with spawn_mock(*mock_args) as mock:
        # No flag: the default scrapes {host}/metrics because it answers.
        proc = short_run(mock.base_url, summary_path, users=6, run_time="4s")
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    server = s["server"]
    assert server["family"] == "vllm" and server["url"] == mock.base_url + "/metrics"
    assert server["scrape_errors"]["count"] == 0 and server["samples"] >= 4
    # 6 users on 2 slots: 2 running and 4 waiting while the load is steady.
    assert server["series"]["running"]["max"] == 2
    assert server["series"]["waiting"]["max"] == 4
    assert server["series"]["kv_cache_usage"]["max"] == 1.0
    written = sum(r["tokens"] for r in truth)
    generated = server["totals"]["generated_tokens"]
    # The last scrape follows the users' stop; the 2 streams cut then may write a few more.
    assert 0 <= written - generated <= 2 * 20, (generated, written)
    assert abs(generated - s["totals"]["output_tokens"]) <= 0.02 * written
    prompts = sum(r["prompt_chars"] // 4 + 1 for r in truth if r["status"] == 200)
    assert server["totals"]["prompt_tokens"] == prompts
    first_tokens = [r for r in truth if r["ttft_ms"] is not None]
    late = len(first_tokens) - server["totals"]["ttft_ms"]["count"]
    assert 0 <= late <= 2, late  # a queued reply may get its slot as the stop frees one
    # Queued TTFTs (up to ~3 replies ahead of each) are long: the server saw them too.
    assert server["totals"]["ttft_ms"]["p50"] > 100
    with_server = [p for p in s["timeseries"]["points"] if "server" in p]
    assert len(with_server) >= 2 and any(p["server"]["waiting"] == 4 for p in with_server)
    assert server["ttft_split"]["source"] == "histogram"


def test_a_scrape_failure_is_counted_and_never_fails_the_run(summary_path):
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    with spawn_mock("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "8") as mock:
        proc = short_run(mock.base_url, summary_path, "--server-metrics", dead, run_time="3s")
        missing = short_run(
            mock.base_url, summary_path.with_name("404.json"),
            "--server-metrics", mock.base_url + "/nope", run_time="2s",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    server = load(summary_path)["server"]
    assert server["samples"] == 0 and server["url"] == dead
    assert server["scrape_errors"]["count"] >= 3
    assert set(server["scrape_errors"]["reasons"]) == {"connection"}
    assert proc.stderr.count("server metrics: scraping") == 1  # said once
    assert load(summary_path)["totals"]["requests"] > 0
    assert missing.returncode == 0, missing.stderr[-3000:]
    reasons = load(summary_path.with_name("404.json"))["server"]["scrape_errors"]["reasons"]
    assert set(reasons) == {"http_404"}


def test_off_and_an_unanswered_default_add_no_server_block(summary_path):
    with spawn_mock("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "8") as mock:
        proc = short_run(mock.base_url, summary_path, "--server-metrics", "off", run_time="2s")
        assert mock_scrapes(mock.base_url) == 0
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "server" not in load(summary_path)


def test_a_distributed_run_scrapes_once(summary_path):
    with spawn_mock("--ttft-ms", "30", "--itl-ms", "3", "--tokens", "16") as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 8, "5s", "--server-metrics",
            "--server-metrics-interval", "0.5",
        )  # fmt: skip
        _, err = master.communicate(timeout=90)
        for worker in workers:
            worker.wait(timeout=30)
        scrapes = mock_scrapes(mock.base_url)
        truth = mock.stats()["requests"]
    assert master.returncode == 0, err[-3000:]
    s = load(summary_path)
    server = s["server"]
    # Every scrape the mock served is one of the master's samples: no worker scraped.
    assert scrapes == server["samples"] and server["scrape_errors"]["count"] == 0
    assert 8 <= server["samples"] <= 16  # 5 s at 0.5 s, plus the baseline and the last one
    written = sum(r["tokens"] for r in truth)
    assert abs(server["totals"]["generated_tokens"] - written) <= 16


def test_doctor_says_whether_metrics_answer_and_which_family():
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "4") as mock:
        cmd = [sys.executable, "-m", "llm_load.cli", "doctor", "-H", mock.base_url, "--json"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        text = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=60).stdout
    doc = json.loads(proc.stdout)
    assert doc["ok"] and doc["server_metrics"]["reachable"]
    assert doc["server_metrics"]["family"] == "vllm"
    assert doc["server_metrics"]["url"] == mock.base_url + "/metrics"
    assert "server metrics: /metrics reachable, family vllm" in text


def test_web_ui_server_tab_shows_the_live_queue(tmp_path):
    from tests.integration.test_webui import get_json, web_locust

    with (
        spawn_mock("--parallel", "2", "--ttft-ms", "50", "--itl-ms", "5", "--tokens", "40") as mock,
        web_locust(
            tmp_path,
            "-H",
            mock.base_url,
            "--model",
            "mock-llm",
            "--autostart",
            "-u",
            "6",
            "-r",
            "6",
            "-t",
            "30s",
        ) as locust,  # fmt: skip
    ):

        def queued() -> dict | None:
            # the full queue: 6 users, 2 slots (a scrape while a user is between two
            # requests, or still starting, sees fewer waiting)
            stats = get_json(locust.url + "/stats/requests")
            tab = next(e["data"] for e in stats["extended_stats"] if e["key"] == "llm-server")
            return tab[0] if tab and tab[0]["waiting"] == 4 else None

        row = locust.wait_until(queued, 40, "the server tab to show the queue of 4")
    assert row["family"] == "vllm" and row["running"] == 2 and row["waiting"] == 4
    assert row["kv_pct"] == 100.0 and row["scrape_errors"] == 0
