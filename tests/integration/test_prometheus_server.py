"""A real Prometheus scrapes a master + 2 workers run against the mock; afterwards its HTTP API
answers with the summary's numbers: counters exact, the TTFT median within one bucket."""

from __future__ import annotations

import time

import pytest

from llm_load.mock.process import spawn_mock
from llm_load.observe.prometheus import BOUNDS_S
from tests.conftest import load
from tests.integration.prometheus_server import Prometheus, free_port, prometheus
from tests.integration.test_distributed import cluster

pytestmark = pytest.mark.timeout(180)
MOCK = ("--ttft-ms", "40", "--itl-ms", "4", "--tokens", "16", "--error-rate", "0.1")


def last(prom: Prometheus, expr: str, at: float) -> float:
    return prom.value(f"last_over_time({expr}[1m])", at)


def bucket_of(seconds: float) -> tuple[float, float]:
    """The Prometheus bucket [lower, upper] holding `seconds` (both ends inclusive)."""
    lower = 0.0
    for bound in BOUNDS_S:
        if seconds <= bound:
            return lower, bound
        lower = bound
    return lower, float("inf")


def test_prometheus_scrapes_the_master_exactly(summary_path, tmp_path):
    port = free_port()
    with (
        prometheus(tmp_path, f"127.0.0.1:{port}") as prom,
        spawn_mock(*MOCK) as mock,
    ):
        master, workers = cluster(
            mock.base_url, summary_path, 2, 6, "6s", "--slo", "ttft_ms <= 45",
            "--prometheus-port", str(port), "--prometheus-linger", "3",
        )  # fmt: skip
        _, err = master.communicate(timeout=90)
        for worker in workers:
            worker.communicate(timeout=30)
        at = time.time()
        assert master.returncode in (0, 1), err[-3000:]
        summary = load(summary_path)
        m = summary["by_model"]["mock-llm"]
        sel = '{model="mock-llm"}'
        for name in ("requests", "failures", "cancelled", "input_tokens", "output_tokens"):
            assert last(prom, f"llm_load_{name}_total{sel}", at) == m[name], name
        assert last(prom, f"llm_load_good_requests_total{sel}", at) == m["goodput"]["good"]
        for error in summary["errors"]:
            errors = f'llm_load_errors_total{{kind="{error["kind"]}"}}'
            assert last(prom, errors, at) == error["count"]
        assert m["requests"] + m["cancelled"] == mock.stats()["total"]
        median = prom.value(
            "histogram_quantile(0.5, sum by (le) "
            f"(last_over_time(llm_load_ttft_seconds_bucket{sel}[1m])))",
            at,
        )
        lower, upper = bucket_of(median)
        assert lower <= m["ttft_ms"]["p50"] / 1000 <= upper, (median, m["ttft_ms"])
        # Seen live: the users gauge was up during the run, in Prometheus' own storage.
        assert prom.value("max_over_time(llm_load_users[2m])", at) == 6
        print(f"prometheus ttft p50 {median * 1000:.2f} ms, summary {m['ttft_ms']['p50']} ms")
