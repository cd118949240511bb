"""Headless Locust runs of locustfiles/chat.py against the mock, checked against its truth."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import (
    CHAT_LOCUSTFILE,
    clean_env,
    load,
    nearest_rank,
    run_locust,
    short_run,
    wait_for_traffic,
)

pytestmark = pytest.mark.timeout(180)


def truth_gaps_mean(records: list[dict]) -> float:
    gaps = [(r["itl_ms_mean"], r["tokens"] - 1) for r in records if r["itl_ms_mean"] is not None]
    return sum(m * n for m, n in gaps) / sum(n for _, n in gaps)


def test_streaming_run_matches_mock_truth(summary_path):
    with spawn_mock("--ttft-ms", "50", "--itl-ms", "5", "--tokens", "32") as mock:
        proc = short_run(
            mock.base_url, summary_path, "--model", "mock-llm", "--max-tokens", "32",
            users=32, run_time="8s",
        )  # fmt: skip
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    t = s["by_model"]["mock-llm"]
    done = [r for r in truth if r["completed"]]
    # every request the server saw is either counted or cancelled by the test's stop
    assert t["requests"] + t["cancelled"] == len(truth) and t["failures"] == 0
    assert len(done) - t["cancelled"] <= t["requests"] <= len(done)
    assert t["usage_reported"] == t["requests"] and t["usage_estimated"] == 0
    assert t["output_tokens"] >= 32 * t["requests"]
    true_p50 = nearest_rank([r["ttft_ms"] for r in done], 50)
    assert abs(t["ttft_ms"]["p50"] - true_p50) < 3, (t["ttft_ms"], true_p50)
    assert abs(t["itl_ms"]["mean"] - truth_gaps_mean(done)) < 1
    assert t["tpot_ms"]["p50"] == pytest.approx(5, abs=1)
    assert s["schema"] == "llm-load/summary/v1" and s["errors"] == []
    assert "LLM summary" in proc.stdout and "mock-llm" in proc.stdout


def test_host_with_v1_and_model_discovery(summary_path):
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8") as mock:
        proc = short_run(mock.base_url + "/v1/", summary_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    assert list(s["by_model"]) == ["mock-llm"] and s["totals"]["requests"] > 0


def test_max_tokens_128_means_128_from_the_mock(summary_path):
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "0.5") as mock:  # no --tokens
        proc = short_run(
            mock.base_url, summary_path, "--model", "mock-llm", "--max-tokens", "128",
            "--stop-timeout", "10",
        )  # fmt: skip
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    t = load(summary_path)["totals"]
    assert t["requests"] == len(truth) > 0 and t["failures"] == t["cancelled"] == 0
    assert t["output_tokens"] == 128 * t["requests"] == sum(r["tokens"] for r in truth)


def test_non_streaming_run(summary_path):
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8") as mock:
        proc = short_run(mock.base_url, summary_path, "--no-stream", "--model", "mock-llm")
    assert proc.returncode == 0, proc.stderr[-3000:]
    t = load(summary_path)["totals"]
    assert t["requests"] > 0 and t["failures"] == 0 and t["ttft_ms"]["count"] == 0
    assert t["output_tokens"] == 8 * t["requests"] and t["e2e_ms"]["p50"] >= 12


KEY = "sk-test-SECRET-0123456789abcdef"
WRONG = "sk-wrong-NOPE-9876543210fedcba"


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (KEY, WRONG, "SECRET-0123", "NOPE-9876"):
            assert secret not in text


def test_wrong_key_is_counted_with_server_message_and_never_printed(summary_path):
    with spawn_mock("--api-key", KEY, "--ttft-ms", "5", "--itl-ms", "1") as mock:
        proc = short_run(mock.base_url, summary_path, "--model", "mock-llm", "--api-key", WRONG)
    s = load(summary_path)
    assert proc.returncode == 1  # Locust's own code when requests failed
    assert s["totals"]["failures"] == s["totals"]["requests"] > 0
    assert s["errors"][0]["kind"] == "http_401" and s["errors"][0]["example"] == "Invalid API key"
    assert "http_401: Invalid API key" in proc.stdout + proc.stderr
    assert_no_secret(proc.stdout, proc.stderr, summary_path.read_text())


def test_key_from_openai_env_works_and_is_redacted(summary_path):
    with spawn_mock("--api-key", KEY, "--ttft-ms", "5", "--itl-ms", "1") as mock:
        proc = short_run(
            mock.base_url, summary_path, "--model", "mock-llm", env=clean_env(OPENAI_API_KEY=KEY)
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    assert s["totals"]["failures"] == 0 and s["settings"]["api_key"] == "sk-…cdef"
    assert s["settings"]["api_key_source"] == "OPENAI_API_KEY"
    assert_no_secret(proc.stdout, proc.stderr, summary_path.read_text())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_still_writes_the_summary_marked_interrupted(summary_path, tmp_path, sig):
    rows = tmp_path / "rows.jsonl"
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "10", "--tokens", "200") as mock:
        cmd = [
            sys.executable, "-m", "locust", "-f", str(CHAT_LOCUSTFILE), "--headless",
            "-u", "4", "-r", "4", "-t", "60s", "-H", mock.base_url, "--model", "mock-llm",
            "--max-tokens", "200", "--llm-json", str(summary_path),
            "--llm-requests", str(rows), "--threshold", "requests > 1000000",
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env()
        )
        wait_for_traffic(mock)
        time.sleep(4)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        truth = mock.stats()["requests"]
    s = load(summary_path)
    t = s["totals"]
    # Each user is mid-stream unless the signal caught it between two requests.
    assert t["requests"] >= 4 and 1 <= t["cancelled"] <= 4 and t["failures"] == 0, (out, err)
    assert s["interrupted"] is True and 3 < s["duration_s"] < 10
    counts = (len(rows.read_text().splitlines()), len(truth), t["requests"] + t["cancelled"])
    assert counts[0] == counts[1] == counts[2], (counts, err[-2000:])
    assert proc.returncode == 3, err[-2000:]  # the thresholds still decide the exit code
    assert out.count("LLM summary") == 1


def test_demo_command(tmp_path):
    out = tmp_path / "demo.json"
    proc = subprocess.run(
        [sys.executable, "-m", "llm_load.cli", "demo", "-t", "3s", "--llm-json", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LLM summary" in proc.stdout and "TTFT" in proc.stdout
    s = load(out)
    assert s["totals"]["requests"] > 0 and s["totals"]["failures"] == 0
    assert 40 < s["totals"]["ttft_ms"]["p50"] < 70


def test_thresholds_set_the_exit_code(summary_path):
    with spawn_mock("--ttft-ms", "30", "--itl-ms", "1", "--tokens", "8") as mock:

        def run(*thresholds: str):
            args = [a for t in thresholds for a in ("--threshold", t)]
            return short_run(mock.base_url, summary_path, "--model", "mock-llm", *args)

        failing = run("ttft_ms.p50 < 10", "error_rate < 0.01")
        s = load(summary_path)
        passing = run("ttft_ms.p50 < 200")
        bad = run("ttft_ms < 10")
    assert failing.returncode == 3, failing.stderr[-2000:]
    assert not s["passed"] and [r["ok"] for r in s["thresholds"]] == [False, True]
    assert "FAIL  ttft_ms.p50 < 10" in failing.stdout and "thresholds FAILED" in failing.stdout
    assert passing.returncode == 0 and "thresholds PASSED" in passing.stdout
    assert load(summary_path)["passed"]
    assert bad.returncode == 2 and "ttft_ms needs one of" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_local_run_loses_no_workers(summary_path):
    """`workers_lost` is 0 on a local run, so the same CI gate works with or without workers."""
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8") as mock:
        proc = short_run(mock.base_url, summary_path, "--threshold", "workers_lost == 0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    s = load(summary_path)
    assert s["workers_lost"] == 0 and s["totals"]["requests"] > 0
    assert s["thresholds"] == [{"check": "workers_lost == 0", "value": 0.0, "ok": True}]
    assert proc.stderr.count("LLM summary written to") == 1


SLOW_START_LOCUSTFILE = """
import gevent
from gevent.monkey import get_original

from llm_load.locust import LLMUser, install

install()
gevent.get_hub()  # gevent's loop exists and has not run yet ...
get_original("time", "sleep")(3)  # ... while start-up takes longer than the run time


class ChatUser(LLMUser):
    pass
"""


def test_a_slow_start_up_does_not_eat_the_run_time(tmp_path, summary_path):
    """An unrun gevent loop keeps its creation time: `-t 2s` fired at once after a 3 s
    start-up (seen on a loaded CI machine) until the plugin refreshed the loop's clock."""
    locustfile = tmp_path / "slow_start.py"
    locustfile.write_text(SLOW_START_LOCUSTFILE)
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "8") as mock:
        proc = run_locust(
            "-u", "2", "-r", "2", "-t", "2s", "-H", mock.base_url, "--model", "mock-llm",
            "--llm-json", str(summary_path), locustfile=locustfile,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    assert 1.8 < s["duration_s"] < 4 and s["totals"]["requests"] > 10


STOPPED_BETWEEN_REQUESTS = '''
import gevent
from llm_load.locust import LLMUser, install

install()


class StoppedUser(LLMUser):
    """Back to back (waits 0 s); its 3rd wait asks Locust to stop it (gracefully, as a `-t`
    ending with --stop-timeout does, or at once) while it is between two requests."""

    waits = 0

    def wait_time(self):
        self.waits += 1
        if self.waits == 3:
            gevent.spawn(self.stop, force=FORCE)  # runs before this wait's own wake-up
        return 0
'''


@pytest.mark.parametrize("force", [False, True])
def test_stop_between_requests_cancels_nothing(tmp_path, summary_path, force):
    """Locust kills a waiting user; with a 0 s wait the user's wake-up was queued before the
    kill, so it used to send one more request that the kill cancelled (seen on vLLM when a
    loaded process ran the stop late). Marked stopping first, it sends no other."""
    locustfile = tmp_path / "stopped.py"
    locustfile.write_text(STOPPED_BETWEEN_REQUESTS.replace("FORCE", str(force)))
    with spawn_mock("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "4") as mock:
        proc = run_locust(
            "-u", "1", "-r", "1", "-t", "4s", "-H", mock.base_url, "--model", "mock-llm",
            "--stop-timeout", "10", "--llm-json", str(summary_path), locustfile=locustfile,
        )  # fmt: skip
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    t = load(summary_path)["totals"]
    assert t["cancelled"] == 0 and t["failures"] == 0
    assert t["requests"] == len(truth) == 3  # the user stopped after its 3rd request
