"""Master + workers on 127.0.0.1: the master's summary merges every worker's metrics exactly."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import CHAT_LOCUSTFILE, clean_env, load, nearest_rank, wait_for_traffic

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def locust(*args: str, locustfile: Path = CHAT_LOCUSTFILE) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
    )


def cluster(
    host: str,
    summary_path,
    workers: int,
    users: int,
    run_time: str,
    *extra: str,
    locustfile: Path = CHAT_LOCUSTFILE,
) -> tuple[subprocess.Popen, list[subprocess.Popen]]:
    """A headless master expecting `workers` workers, and those workers, on 127.0.0.1;
    `extra` goes to the master (workers get the master's options)."""
    port = str(free_port())
    master = locust(
        "--master", "--headless", "--expect-workers", str(workers), "-u", str(users),
        "-r", str(users), "-t", run_time, "-H", host, "--model", "mock-llm",
        "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
        "--llm-json", str(summary_path), *extra, locustfile=locustfile,
    )  # fmt: skip
    worker = ("--worker", "--master-host", "127.0.0.1", "--master-port", port)
    started = [locust(*worker, locustfile=locustfile) for _ in range(workers)]
    return master, started


def test_three_workers_merge_to_the_mock_truth(summary_path):
    with spawn_mock("--ttft-ms", "40", "--itl-ms", "4", "--tokens", "24") as mock:
        master, workers = cluster(mock.base_url, summary_path, workers=3, users=24, run_time="6s")
        out, err = master.communicate(timeout=60)
        for worker in workers:
            worker.wait(timeout=30)
        truth = mock.stats()["requests"]
    assert master.returncode == 0, err[-3000:]
    s = load(summary_path)
    t = s["by_model"]["mock-llm"]
    assert t["requests"] + t["cancelled"] == len(truth) and t["failures"] == 0
    done = [r for r in truth if r["completed"]]
    true_p50 = nearest_rank([r["ttft_ms"] for r in done], 50)
    assert abs(t["ttft_ms"]["p50"] - true_p50) < 3, (t["ttft_ms"], true_p50)
    assert t["output_tokens"] >= 24 * t["requests"]
    assert out.count("LLM summary") == 1 and f"{t['requests']:,}" in out


def watch_writes(path: Path, done: threading.Event) -> list[int]:
    """The inode of each version of `path` seen while polling until `done` (every write
    is a temp file renamed over it: a new inode)."""
    seen: list[int] = []

    def poll() -> None:
        while not done.is_set():
            try:
                inode = path.stat().st_ino
            except FileNotFoundError:
                inode = 0
            if inode and (not seen or seen[-1] != inode):
                seen.append(inode)
            time.sleep(0.005)

    threading.Thread(target=poll, daemon=True).start()
    return seen


def test_the_master_writes_the_summary_once_complete(summary_path):
    """Issue 16: one write, after the workers' final reports; `workers_lost` gates."""
    with spawn_mock("--ttft-ms", "30", "--itl-ms", "3", "--tokens", "16") as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 8, "5s", "--threshold", "workers_lost == 0"
        )
        done = threading.Event()
        inodes = watch_writes(summary_path, done)
        _, err = master.communicate(timeout=60)
        for worker in workers:
            worker.wait(timeout=30)
        time.sleep(0.1)  # a last poll
        done.set()
        truth = mock.stats()["requests"]
    assert master.returncode == 0, err[-3000:]
    assert err.count("LLM summary written to") == 1, err[-3000:]
    assert len(inodes) == 1, inodes
    s = load(summary_path)
    t = s["totals"]
    assert t["requests"] + t["cancelled"] == len(truth) and t["failures"] == 0
    assert s["thresholds"] == [{"check": "workers_lost == 0", "value": 0.0, "ok": True}]
    assert s["workers_lost"] == 0 and s["passed"] is True


def test_request_rows_and_time_series_arrive_on_the_master(summary_path, tmp_path):
    rows_path = tmp_path / "requests.jsonl"
    with spawn_mock("--ttft-ms", "30", "--itl-ms", "3", "--tokens", "16") as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 8, "6s", "--llm-requests", str(rows_path)
        )
        _, err = master.communicate(timeout=60)
        for worker in workers:
            worker.wait(timeout=30)
        truth = mock.stats()["requests"]
    assert master.returncode == 0, err[-3000:]
    s = load(summary_path)
    t = s["totals"]
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert len(rows) == len(truth) == t["requests"] + t["cancelled"]
    assert s["requests_log"] == {"path": str(rows_path), "rows": len(rows), "dropped": 0}
    assert len({r["worker"] for r in rows}) == 2
    assert sum(r["status"] == "ok" for r in rows) == t["requests"] - t["failures"]
    points = s["timeseries"]["points"]
    assert sum(p["requests"] for p in points) == t["requests"]
    assert 8 in [p["users"] for p in points]  # the master's user count, once all ran
    assert all(0 < p["t_s"] <= s["duration_s"] + 1 for p in points), (
        s["duration_s"],
        [(p["t_s"], p["users"], p["requests"]) for p in points],
    )


def test_a_killed_worker_is_reported_and_the_run_still_ends(summary_path):
    with spawn_mock("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "16") as mock:
        master, workers = cluster(mock.base_url, summary_path, workers=2, users=8, run_time="10s")
        try:
            wait_for_traffic(mock)
            time.sleep(2)
            workers[0].send_signal(signal.SIGKILL)  # no goodbye, no final report
            out, err = master.communicate(timeout=60)
        finally:
            for worker in workers:
                worker.kill()
                worker.wait(timeout=10)
    s = load(summary_path)
    assert s["workers_lost"] == 1, err[-3000:]
    assert s["totals"]["requests"] > 0 and s["totals"]["failures"] == 0
    assert 8 < s["duration_s"] < 20
    assert "workers lost during the run: 1" in out


def test_sigterm_on_a_worker_then_on_the_master_loses_nothing(summary_path, tmp_path):
    rows = tmp_path / "rows.jsonl"
    with spawn_mock("--ttft-ms", "20", "--itl-ms", "5", "--tokens", "32") as mock:
        master, workers = cluster(
            mock.base_url, summary_path, 2, 8, "60s", "--llm-requests", str(rows)
        )
        try:
            wait_for_traffic(mock)  # both workers are in: the master starts with 2
            time.sleep(1)
            workers[0].send_signal(signal.SIGTERM)  # says goodbye with a final report
            workers[0].wait(timeout=20)
            time.sleep(2)
            master.send_signal(signal.SIGTERM)
            out, err = master.communicate(timeout=60)
        finally:
            for worker in workers:
                worker.kill()
                worker.wait(timeout=10)
        truth = mock.stats()["requests"]
    s = load(summary_path)
    t = s["totals"]
    assert s["interrupted"] is True and s["workers_lost"] == 0, err[-3000:]
    assert t["requests"] + t["cancelled"] == len(truth) and t["failures"] == 0
    assert len(rows.read_text().splitlines()) == len(truth)
    assert out.count("LLM summary") == 1
