"""A real Prometheus server (Debian's `prometheus`) for tests: 127.0.0.1, a free port, its own
temporary config and storage, a 1 s scrape interval; always stopped on exit."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

BINARY = shutil.which("prometheus")
CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: llm-load
    metrics_path: {path}
    static_configs:
      - targets: ["{target}"]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    """A running server; `query` is its HTTP API's instant query."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        resp = requests.get(self.url + "/api/v1/query", params=params, timeout=10)
        body = resp.json()
        assert body.get("status") == "success", (expr, body)
        return body["data"]["result"]

    def value(self, expr: str, at: float | None = None) -> float:
        """The single value of `expr` (fails unless exactly one series answers)."""
        result = self.query(expr, at)
        assert len(result) == 1, (expr, result)
        return float(result[0]["value"][1])


@contextmanager
def prometheus(tmp_path: Path, target: str, path: str = "/metrics") -> Iterator[Prometheus]:
    """Prometheus scraping `target` (host:port) at `path` every second."""
    if BINARY is None:
        pytest.skip("Debian's prometheus is not installed (apt-get install prometheus)")
    config = tmp_path / "prometheus.yml"
    config.write_text(CONFIG.format(path=path, target=target))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [BINARY, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(proc, url, tmp_path / "prometheus.log")
        yield Prometheus(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, limit_s: float = 30) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "prometheus exited:\n" + log.read_text()[-3000:]
        try:
            if requests.get(url + "/-/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("prometheus not ready:\n" + log.read_text()[-3000:])
