"""`locust --processes N`: one command forks N workers and a master; their merged summary must
equal the mock's ground truth, after a `-t` limit and after Ctrl-C on the whole process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import CHAT_LOCUSTFILE, clean_env, load, nearest_rank
from tests.integration.test_distributed import free_port

pytestmark = pytest.mark.timeout(120)


def start_processes(host: str, summary: Path, rows: Path, *args: str) -> subprocess.Popen:
    """`locust --processes 2` in a session of its own, so its forked workers can be signalled
    (and, whatever happens, killed) as one process group. Master and workers meet on a free
    port: on Locust's default 5557 they could meet another run's processes."""
    port = str(free_port())
    cmd = [
        sys.executable, "-m", "locust", "-f", str(CHAT_LOCUSTFILE), "--headless",
        "--processes", "2", "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
        "--master-port", port, "-H", host, "--model", "mock-llm",
        "--llm-json", str(summary), "--llm-requests", str(rows), *args,
    ]  # fmt: skip
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        start_new_session=True,
    )


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str, bool]:
    """Wait for the command; return its output and whether any of its processes outlived it
    (then all of them are killed)."""
    try:
        out, err = proc.communicate(timeout=timeout)
        deadline = time.monotonic() + 2
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        return out, err, group_alive(proc.pid)
    finally:
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_two_processes_merge_to_the_mock_truth(summary_path, tmp_path):
    rows_path = tmp_path / "requests.jsonl"
    with spawn_mock("--ttft-ms", "40", "--itl-ms", "4", "--tokens", "24") as mock:
        load_args = ("-u", "16", "-r", "16", "-t", "5s")
        proc = start_processes(mock.base_url, summary_path, rows_path, *load_args)
        out, err, leftover = finish(proc)
        truth = mock.stats()["requests"]
    assert proc.returncode == 0 and not leftover, err[-3000:]
    s = load(summary_path)
    t = s["by_model"]["mock-llm"]
    assert t["requests"] + t["cancelled"] == len(truth) and t["failures"] == 0, (t, len(truth))
    assert s["workers_lost"] == 0 and s["interrupted"] is False
    assert 4.5 < s["duration_s"] < 8
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    assert len(rows) == len(truth)
    assert len({r["worker"] for r in rows}) == 2
    done = [r for r in truth if r["completed"]]
    true_p50 = nearest_rank([r["ttft_ms"] for r in done], 50)
    assert abs(t["ttft_ms"]["p50"] - true_p50) < 3, (t["ttft_ms"], true_p50)
    assert out.count("LLM summary") == 1 and f"{t['requests']:,}" in out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_whole_group_loses_nothing(summary_path, tmp_path, sig):
    """Ctrl-C in a terminal signals the master and its forked workers at once (so do `docker
    compose stop` and `kill -- -PGID` with SIGTERM): every worker's last requests still count."""
    rows_path = tmp_path / "requests.jsonl"
    with spawn_mock("--ttft-ms", "20", "--itl-ms", "5", "--tokens", "32") as mock:
        load_args = ("-u", "8", "-r", "8", "-t", "60s")
        proc = start_processes(mock.base_url, summary_path, rows_path, *load_args)
        try:
            deadline = time.monotonic() + 30
            while len(mock.stats()["requests"]) < 40 and time.monotonic() < deadline:
                time.sleep(0.2)
            os.killpg(proc.pid, sig)
        finally:
            out, err, leftover = finish(proc)
        truth = mock.stats()["requests"]
    assert proc.returncode == 0 and not leftover, err[-3000:]
    s = load(summary_path)
    t = s["totals"]
    assert s["interrupted"] is True and s["workers_lost"] == 0, err[-3000:]
    # Every request the server saw is counted, finished or cancelled; a request the signal
    # cut while it was being sent is cancelled without having reached it (seen once in CI:
    # 37 + 8 counted, 44 received).
    counted = t["requests"] + t["cancelled"]
    assert t["requests"] <= len(truth) <= counted and t["failures"] == 0, (t, len(truth))
    assert len(rows_path.read_text().splitlines()) == counted
    assert out.count("LLM summary") == 1, out[-3000:]
