"""`llm-load capacity` against the mock with `--parallel 8`: 8 batch slots, the rest queue.

Mock: TTFT 40 ms, ITL 8 ms, 48 tokens: one generation holds a slot S = 40 + 47 * 8 = 416 ms.
Up to 8 users never queue (TTFT 40 ms). At 9 users the slots are always busy, so requests
wait S / 8 = 52 ms on average, and at least (52 - 40) / (416 - 40) = 3.2 % of them wait more
than 40 ms: an SLO of TTFT p99 <= 80 ms passes 8 users and fails 9, so the capacity is 8
(the 40 ms margin absorbs the client's and the mock's own delays on a busy machine).
Open loop (Poisson arrivals) the slots serve at most 8 / S = 19.2 req/s; the rate at which
the p99 wait for a slot reaches 210 ms (TTFT p99 <= 250 ms) comes from simulating that M/D/8
queue: about 12 req/s.
"""

from __future__ import annotations

import heapq
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from llm_load.mock.process import spawn_mock
from tests.conftest import ROOT, clean_env, load
from tests.integration.test_distributed import free_port, locust
from tests.integration.test_scenario_webui import post
from tests.integration.test_webui import get, get_json, web_locust

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]
MOCK = ("--parallel", "8", "--ttft-ms", "40", "--itl-ms", "8", "--tokens", "48")
SERVICE_S = (40 + 47 * 8) / 1000
SLO = "ttft_ms.p99 <= 80"
FAST = ("--step-s", "3", "--min-requests", "20", "--settle-s", "1")
CAPACITY_LOCUSTFILE = ROOT / "locustfiles" / "capacity.py"
# With the default reactor, once users are stopped mid-stream (a step down), 1-2 remaining
# users saw TTFT ~1 s against 20 ms (a reactor left without a reader?); the greenlet reader
# does not: see the closing note of the capacity branch.
READER: tuple[str, ...] = ("--stream-reader", "greenlet")


def capacity(host: str, summary: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "llm_load.cli", "capacity", "-H", host, "--model", "mock-llm",
           "--max-tokens", "48", "--llm-json", str(summary), *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=280, env=clean_env())


def assert_truth(summary: dict, truth: dict) -> None:
    """Every call the mock saw is in the summary, and every step's data is a part of it."""
    totals = summary["totals"]
    assert totals["requests"] + totals["cancelled"] == truth["total"]
    steps = summary["capacity"]["steps"]
    assert sum(s["requests"] + s["cancelled"] for s in steps) <= truth["total"]
    assert all(s["sent"] >= s["requests"] for s in steps)


def assert_eight_users(summary: dict, elapsed_s: float) -> None:
    cap = summary["capacity"]
    table = [
        (s["load"], s["started_s"], s["window_s"], s["requests"], s["ttft_ms"]["p99"],
         s["checks"][0]["breaks"], s["decided"], s["passed"])
        for s in cap["steps"]
    ]  # fmt: skip
    assert cap["complete"] and cap["mode"] == "users", table
    assert cap["value"] in (7, 8, 9) and cap["value_next_failed"] == cap["value"] + 1, table
    confirmed = [s for s in cap["steps"] if s["load"] == cap["value"] and s["confirmed"]]
    assert confirmed and confirmed[-1]["requests"] >= 299, table  # p99 at 95 %: 299 requests
    over = [s for s in cap["steps"] if s["load"] > 9]
    assert over and not any(s["passed"] for s in over), table
    print(f"search {cap['duration_s']:.0f} s, wall {elapsed_s:.0f} s:", table)  # shown with -s
    # The search within 3 minutes; the wall clock adds the processes' start on a busy machine.
    assert cap["duration_s"] < 180 and elapsed_s < 240, (cap["duration_s"], elapsed_s)


def test_users_mode_finds_the_8_slots_in_one_process(tmp_path):
    summary_path = tmp_path / "summary.json"
    with spawn_mock(*MOCK) as mock:
        start = time.monotonic()
        proc = capacity(mock.base_url, summary_path, "--slo", SLO, "--max", "32", "--expect",
                        "6", *FAST)  # fmt: skip
        elapsed = time.monotonic() - start
        truth = mock.stats()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = load(summary_path)
    assert_eight_users(summary, elapsed)
    assert_truth(summary, truth)
    value = summary["capacity"]["value"]
    assert f"Capacity: {value} concurrent users — " in proc.stdout
    assert proc.stdout.count("capacity step ") == len(summary["capacity"]["steps"])


def test_users_mode_on_master_and_two_workers(tmp_path):
    summary_path = tmp_path / "summary.json"
    spec = {"slo": [SLO], "max": 32, "step_s": 3, "min_requests": 20, "settle_s": 1}
    scenario = tmp_path / "capacity.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "capacity", "models": [{"name": "mock-llm", "max_tokens": 48}],
        "prompts": {"inline": ["Hello"]}, "capacity": spec,
    }))  # fmt: skip
    port = str(free_port())
    with spawn_mock(*MOCK) as mock:
        start = time.monotonic()
        master = locust(
            "--master", "--headless", "--expect-workers", "2", "--scenario", str(scenario),
            "-H", mock.base_url, "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
            "--llm-json", str(summary_path), "--only-summary", locustfile=CAPACITY_LOCUSTFILE,
        )  # fmt: skip
        worker = ("--worker", "--master-host", "127.0.0.1", "--master-port", port)
        workers = [locust(*worker, locustfile=CAPACITY_LOCUSTFILE) for _ in range(2)]
        out, err = master.communicate(timeout=280)
        elapsed = time.monotonic() - start
        for process in workers:
            process.wait(timeout=30)
        truth = mock.stats()
    assert master.returncode == 0, out[-3000:] + err[-3000:]
    summary = load(summary_path)
    assert_eight_users(summary, elapsed)
    assert_truth(summary, truth)


def queue_p99_wait_ms(rate: float, slots: int = 8, n: int = 100_000) -> float:
    """The p99 wait for a slot of Poisson arrivals at `rate` req/s (M/D/slots, simulated)."""
    rng, t, free, waits = random.Random(7), 0.0, [0.0] * slots, []
    for _ in range(n):
        t += rng.expovariate(rate)
        start = max(t, heapq.heappop(free))
        waits.append(start - t)
        heapq.heappush(free, start + SERVICE_S)
    return sorted(waits)[int(0.99 * n)] * 1000


def test_rate_mode_matches_the_queue_of_the_mocks_slots(tmp_path):
    summary_path = tmp_path / "summary.json"
    with spawn_mock(*MOCK) as mock:
        proc = capacity(mock.base_url, summary_path, "--mode", "rate", "--slo",
                        "ttft_ms.p99 <= 250", "--min", "3", "--max", "24", "--resolution", "1",
                        "--max-step-s", "20", *FAST)  # fmt: skip
        truth = mock.stats()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = load(summary_path)
    cap = summary["capacity"]
    table = [(s["load"], s["requests"], s["ttft_ms"]["p99"], s["decided"], s["passed"])
             for s in cap["steps"]]  # fmt: skip
    # The highest whole rate whose simulated p99 wait stays within 250 - 40 ms.
    expected = max(r for r in range(3, 20) if queue_p99_wait_ms(r) <= 210)
    assert cap["complete"] and cap["unit"] == "req/s", table
    # A step's p99 from a few hundred requests decides within about +-2 req/s of the model.
    assert expected - 3 <= cap["value"] <= expected + 2 < 8 / SERVICE_S, (expected, table)
    assert cap["value_next_failed"] == cap["value"] + 1, table
    at_value = [s for s in cap["steps"] if s["load"] == cap["value"] and s["passed"]][-1]
    assert at_value["requests_per_s"] == pytest.approx(cap["value"], rel=0.25), table
    assert_truth(summary, truth)


def test_errors_over_the_ceiling_fail_and_expect_exits_3(tmp_path):
    summary_path = tmp_path / "summary.json"
    with spawn_mock(*MOCK, "--error-rate", "0.1") as mock:
        proc = capacity(mock.base_url, summary_path, "--slo", SLO, "--expect", "1", *FAST)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-3000:]
    cap = load(summary_path)["capacity"]
    assert cap["value"] is None and cap["met_expectation"] is False and cap["complete"]
    (step,) = cap["steps"]
    assert step["load"] == 1 and not step["passed"] and step["failures"] > 0
    assert "error rate = " in step["reason"] and "(ceiling 1.0%)" in step["reason"]
    assert "Capacity: below 1 user" in proc.stdout


def test_bad_capacity_input_exits_2_before_any_traffic(tmp_path):
    with spawn_mock(*MOCK) as mock:
        proc = capacity(mock.base_url, tmp_path / "s.json", "--slo", "ttft_ms.p99 < 70")
        sent = mock.stats()["total"]
    assert proc.returncode == 2 and "an SLO is an upper limit" in proc.stderr, proc.stderr
    assert sent == 0


def capacity_rows_when_done(url: str) -> list[dict] | None:
    stats = get_json(url + "/stats/requests").get("extended_stats") or []
    rows = next((e["data"] for e in stats if e["key"] == "llm-capacity"), [])
    return rows if rows and rows[0]["verdict"] == "done" else None


def test_web_ui_runs_the_search_and_shows_it_in_the_capacity_tab(tmp_path):
    # 2 slots of 20 + 47 * 4 = 208 ms: with a third user, requests wait 104 ms on average
    # and at least (104 - 40) / (208 - 40) = 38 % of them more than 60 - 20 ms.
    spec = {"slo": ["ttft_ms.p99 <= 60"], "max": 8, "step_s": 2, "min_requests": 20,
            "settle_s": 2, "max_step_s": 30}  # fmt: skip
    scenario = tmp_path / "capacity.yaml"
    scenario.write_text(yaml.safe_dump({
        "name": "capacity", "models": [{"name": "mock-llm", "max_tokens": 48}],
        "prompts": {"inline": ["Hello"]}, "capacity": spec,
    }))  # fmt: skip
    mock_args = ("--parallel", "2", "--ttft-ms", "20", "--itl-ms", "4", "--tokens", "48")
    with (
        spawn_mock(*mock_args) as mock,
        web_locust(
            tmp_path,
            "--scenario",
            str(scenario),
            "-H",
            mock.base_url,
            locustfile=CAPACITY_LOCUSTFILE,
        ) as web,  # fmt: skip
    ):
        web.wait_until(lambda: get_json(web.url + "/llm/summary"), 30, "the web UI")
        assert '"llm-capacity"' in get(web.url + "/")[0]  # the tab is on the page
        assert post(web.url + "/swarm", user_count=1, spawn_rate=1, host=mock.base_url)["success"]
        rows = web.wait_until(lambda: capacity_rows_when_done(web.url), 200, "a finished search")
        summary = get_json(web.url + "/llm/summary")
    cap = summary["capacity"]
    table = [(s["load"], s["requests"], s["ttft_ms"]["p99"], s["reason"]) for s in cap["steps"]]
    assert cap["complete"] and cap["value"] in (1, 2, 3), "\n".join(map(str, table))
    assert rows[0]["reason"].startswith(f"Capacity: {cap['value']} concurrent user")
    assert [row["step"] for row in rows[1:]] == [s["step"] for s in cap["steps"]]
