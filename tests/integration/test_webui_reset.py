"""The web UI's "Reset stats" resets our LLM numbers too, on a local run and on a master
with 2 workers: the summary counts only the requests sent after it (the mock's truth, each
request's arrival time against the moment of the reset), the time series keeps them all.

Times: the test's `perf_counter()` and the mock's `received_at` are the same monotonic clock.
A request that reached the mock before the reset's POST was sent before the reset; one that
reached it more than `SEND_S` after the POST's answer was sent after it (on a worker: after
the master's word reached it); only the few in between may go either way.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from llm_load.locust.workers import Workers
from llm_load.mock.process import spawn_mock
from tests.conftest import load, run_locust
from tests.integration.test_distributed import free_port, locust
from tests.integration.test_scenario_distributed import finish
from tests.integration.test_webui import _OPENER, get_json, web_locust

pytestmark = pytest.mark.timeout(120)
MOCK = ("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "16")
SEND_S = 0.1  # send -> the mock's receipt, at most, on a busy machine
BEFORE = 40  # requests before the reset


def post(url: str) -> None:
    with _OPENER.open(urllib.request.Request(url, data=b"", method="POST"), timeout=10) as r:
        assert r.read() == b"ok"


def run_and_reset(mock: Any, web: Any) -> tuple[float, float, int]:
    """Wait for `BEFORE` requests, reset from the web UI; (t0, t1) around the POST, and the
    LLM requests the live summary shows right after it."""
    web.wait_until(lambda: mock.stats()["total"] >= BEFORE, 60, f"{BEFORE} requests")
    t0 = time.perf_counter()
    post(web.url + "/stats/reset")
    t1 = time.perf_counter()
    return t0, t1, get_json(web.url + "/llm/summary")["totals"]["requests"]


def check(summary: dict, truth: list[dict], t0: float, t1: float, live: int) -> None:
    totals = summary["totals"]
    n, cancelled = totals["requests"], totals["cancelled"]
    before = [r for r in truth if r["received_at"] < t0]
    after = [r for r in truth if r["received_at"] >= t0]
    sure = [r for r in truth if r["received_at"] > t1 + SEND_S]
    print(f"\nreset: {len(before)} before, {n} counted of {len(sure)}..{len(after)} after")
    assert len(before) >= BEFORE and live < 10  # the live LLM tab restarted from zero too
    assert len(sure) - cancelled <= n <= len(after) and len(after) - len(sure) <= 20
    assert totals["failures"] == 0 and totals["e2e_ms"]["count"] == n
    assert summary["errors"] == [] and summary["stats_reset"]["at_s"] > 0
    # the time series keeps every request, the ones before the reset marked
    points = summary["timeseries"]["points"]
    in_series = sum(p["requests"] for p in points)
    assert in_series <= len(truth) <= in_series + cancelled
    assert any(p.get("before_reset") for p in points) and not points[-1].get("before_reset")


def autostart(mock_url: str, path: Path) -> tuple[str, ...]:
    return ("-H", mock_url, "--model", "mock-llm", "--autostart", "--autoquit", "2",
            "-u", "4", "-r", "4", "-t", "8s", "--llm-json", str(path))  # fmt: skip


def test_reset_stats_on_a_local_run(tmp_path, summary_path):
    with (
        spawn_mock(*MOCK) as mock,
        web_locust(tmp_path, *autostart(mock.base_url, summary_path)) as web,
    ):
        t0, t1, live = run_and_reset(mock, web)
        web.wait_until(summary_path.exists, 60, "the summary at the test's end")
        assert web.proc.wait(30) == 0, web.tail()
        truth = mock.stats()["requests"]
    check(load(summary_path), truth, t0, t1, live)


def test_reset_stats_on_a_master_with_two_workers(tmp_path, summary_path):
    port = str(free_port())
    master = ("--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
              "--master-bind-port", port)  # fmt: skip
    with (
        spawn_mock(*MOCK) as mock,
        web_locust(tmp_path, *master, *autostart(mock.base_url, summary_path)) as web,
    ):
        worker = ("--worker", "--master-host", "127.0.0.1", "--master-port", port)
        workers = [locust(*worker) for _ in range(2)]
        try:
            t0, t1, live = run_and_reset(mock, web)
            web.wait_until(summary_path.exists, 60, "the summary at the test's end")
            assert web.proc.wait(30) == 0, web.tail()
        finally:
            finish(web.proc, workers)
        truth = mock.stats()["requests"]
    summary = load(summary_path)
    assert summary["workers_lost"] == 0
    check(summary, truth, t0, t1, live)


def test_locust_reset_stats_flag_resets_ours_when_spawning_completes(summary_path):
    """`--reset-stats`, headless: 4 users at 2/s, so spawning completes about 1.5 s in."""
    with spawn_mock(*MOCK) as mock:
        proc = run_locust(
            "-H", mock.base_url, "--model", "mock-llm", "-u", "4", "-r", "2", "-t", "5s",
            "--reset-stats", "--llm-json", str(summary_path),
        )  # fmt: skip
        truth = mock.stats()["requests"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    s = load(summary_path)
    totals, points = s["totals"], s["timeseries"]["points"]
    in_series = sum(p["requests"] for p in points)
    assert in_series <= len(truth) <= in_series + totals["cancelled"]
    assert 1.0 <= s["stats_reset"]["at_s"] < 4.0 and any(p.get("before_reset") for p in points)
    # the requests of the ramp are in the series only; at least 1 s of them at 3 users or less
    assert 30 < totals["requests"] <= in_series - 30


class FakeRunner:
    """The two things `Workers.reset_stats` uses of a master runner."""

    def __init__(self, *ids: str) -> None:
        self.clients = type("Clients", (), {"all": [type("C", (), {"id": i}) for i in ids]})
        self.sent: list[tuple[str, Any, str]] = []

    def send_message(self, kind: str, data: Any = None, client_id: str = "") -> None:
        self.sent.append((kind, data, client_id))


def test_a_report_crossing_the_reset_is_told_apart():
    workers, runner = Workers(), FakeRunner("a", "b")
    assert not workers.stale("a", 0)  # no reset yet
    workers.reset_stats(runner)
    assert [(d["resets"], c) for _, d, c in runner.sent] == [(1, "a"), (1, "b")]
    assert workers.stale("a", 0) and not workers.stale("a", 1)
    assert not workers.stale("c", 0)  # a worker that joined after the reset
