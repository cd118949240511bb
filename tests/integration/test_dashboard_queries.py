"""Every PromQL expression of dashboards/grafana-llm-load.json returns data from a real
Prometheus that scraped a tool-call run against the mock (errors, SLO and tool grades on)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from llm_load.mock.process import spawn_mock
from tests.conftest import TOOL_CASES, TOOLS_LOCUSTFILE, clean_env
from tests.integration.prometheus_server import free_port, prometheus
from tests.unit.test_dashboard import DASHBOARD

pytestmark = pytest.mark.timeout(180)
MOCK = ("--ttft-ms", "30", "--itl-ms", "2", "--tokens", "8", "--tool-cases", str(TOOL_CASES))


def grafana_to_promql(expr: str) -> str:
    """What Grafana sends for the dashboard's variables: all models, a 1 min rate window."""
    return expr.replace("$model", ".*").replace("$__rate_interval", "1m")


def test_every_dashboard_query_returns_data(tmp_path):
    port = free_port()
    exprs = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]
    with (
        prometheus(tmp_path, f"127.0.0.1:{port}") as prom,
        spawn_mock(*MOCK, "--tool-error-rate", "0.2", "--error-rate", "0.1") as mock,
    ):
        cmd = [
            sys.executable, "-m", "locust", "-f", str(TOOLS_LOCUSTFILE), "--headless",
            "-u", "4", "-r", "4", "-t", "6s", "-H", mock.base_url, "--model", "mock-llm",
            "--slo", "ttft_ms <= 40", "--prometheus-port", str(port),
            "--prometheus-linger", "3",
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=clean_env())
        at = time.time() - 1.5  # while the run was still being scraped (during the linger)
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
        empty = [e for e in exprs if not prom.query(grafana_to_promql(e), at)]
        assert not empty, empty
        models = prom.query("count by (model) (llm_load_requests_total)", at)
        assert [m["metric"]["model"] for m in models] == ["mock-llm"]  # the $model variable
